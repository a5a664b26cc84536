"""The day-before message goes on the eve of the appointment's day, at the structure's
chosen hour (default 10:00), both read in the structure's own zone: across DST changes,
after midnight, overseas. Clocks are frozen by passing `now` to the planning step that the
booking runs (delivery.on_booked), and to the sending step."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from notifications import delivery
from notifications.models import Kind, Notification, State
from portal.models import Structure
from tests import factories

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def at(zone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone))


def planned(structure: Structure, agent, start: dt.datetime, now: dt.datetime) -> Notification | None:
    """Book `start` with the clock at `now`: the day-before row planned, if any."""
    appointment = factories.appointment(structure, agent, start=start)
    delivery.on_booked(appointment.pk, now=now)
    rows = Notification.objects.filter(appointment=appointment, kind=Kind.DAY_BEFORE, status=State.QUEUED)
    assert rows.count() <= 1
    return rows.first()


@pytest.fixture
def agent_in(db):
    def make(time_zone: str, **fields) -> tuple[Structure, object]:
        structure = Structure.objects.create(name="Mairie", time_zone=time_zone, **fields)
        return structure, factories.member(structure)

    return make


@pytest.mark.parametrize(
    ("start", "due"),
    [
        # Monday 00:30 → Sunday 10:00, not Saturday 23:30 (24 h before, across the spring change).
        (at("Europe/Paris", 2027, 3, 29, 0, 30), at("Europe/Paris", 2027, 3, 28, 10, 0)),
        # Sunday of the spring change (23-hour day): the eve is Saturday, still winter time.
        (at("Europe/Paris", 2027, 3, 28, 9, 0), at("Europe/Paris", 2027, 3, 27, 10, 0)),
        # A 00:05 appointment after the autumn change: Sunday 10:00 (winter time), not 00:05.
        (at("Europe/Paris", 2027, 11, 1, 0, 5), at("Europe/Paris", 2027, 10, 31, 10, 0)),
        # Sunday of the autumn change (25-hour day): the eve is Saturday, summer time.
        (at("Europe/Paris", 2027, 10, 31, 14, 0), at("Europe/Paris", 2027, 10, 30, 10, 0)),
    ],
)
def test_paris_around_both_dst_changes(agent_in, start, due):
    structure, agent = agent_in("Europe/Paris")
    row = planned(structure, agent, start, now=start - dt.timedelta(days=10))
    assert row is not None and row.due_at == due
    assert row.due_at.astimezone(PARIS).time() == dt.time(10, 0)
    assert row.due_at.astimezone(PARIS).date() == start.astimezone(PARIS).date() - dt.timedelta(days=1)


def test_the_exact_utc_instants(agent_in):
    structure, agent = agent_in("Europe/Paris")
    start = at("Europe/Paris", 2027, 3, 29, 0, 30)
    row = planned(structure, agent, start, now=start - dt.timedelta(days=3))
    assert row.due_at == dt.datetime(2027, 3, 28, 8, 0, tzinfo=dt.UTC)  # 10:00 CEST
    start = at("Europe/Paris", 2027, 11, 1, 0, 5)
    row = planned(structure, agent, start, now=start - dt.timedelta(days=3))
    assert row.due_at == dt.datetime(2027, 10, 31, 9, 0, tzinfo=dt.UTC)  # 10:00 CET


@pytest.mark.parametrize(
    ("time_zone", "start", "due_utc"),
    [
        # Nouméa (UTC+11): the eve at 10:00 is 23:00 UTC two days before in UTC terms.
        ("Pacific/Noumea", (2027, 1, 4, 8, 0), dt.datetime(2027, 1, 2, 23, 0, tzinfo=dt.UTC)),
        # Réunion (UTC+4), a 00:15 appointment.
        ("Indian/Reunion", (2027, 3, 29, 0, 15), dt.datetime(2027, 3, 28, 6, 0, tzinfo=dt.UTC)),
        # Guadeloupe (UTC−4): a 23:30 appointment, eve at 10:00 local.
        ("America/Guadeloupe", (2027, 3, 28, 23, 30), dt.datetime(2027, 3, 27, 14, 0, tzinfo=dt.UTC)),
    ],
)
def test_overseas_zones(agent_in, time_zone, start, due_utc):
    structure, agent = agent_in(time_zone)
    start = at(time_zone, *start)
    row = planned(structure, agent, start, now=start - dt.timedelta(days=5))
    assert row is not None and row.due_at == due_utc


def test_a_structure_chosen_hour(agent_in):
    structure, agent = agent_in("Europe/Paris", day_before_time=dt.time(18, 30))
    start = at("Europe/Paris", 2027, 3, 29, 9, 0)
    row = planned(structure, agent, start, now=start - dt.timedelta(days=5))
    assert row.due_at == at("Europe/Paris", 2027, 3, 28, 18, 30)


def test_an_hour_that_does_not_exist_that_night_goes_an_hour_later(agent_in):
    # 02:30 on 28 March 2027 does not exist in Paris: read with the winter offset, 03:30 CEST.
    structure, agent = agent_in("Europe/Paris", day_before_time=dt.time(2, 30))
    start = at("Europe/Paris", 2027, 3, 29, 9, 0)
    row = planned(structure, agent, start, now=start - dt.timedelta(days=5))
    assert row.due_at == at("Europe/Paris", 2027, 3, 28, 3, 30)


@pytest.mark.parametrize(
    ("now", "gap", "expected"),
    [
        # The evening before: 10:00 is past, the day has not come; the confirmation goes now
        # and carries the same links, within the minimum gap: no second message.
        (at("Europe/Paris", 2027, 3, 28, 15, 0), 120, None),
        # Same, with no minimum gap configured: the day-before goes at booking time.
        (at("Europe/Paris", 2027, 3, 28, 15, 0), 0, "now"),
        # Booked the eve at 07:00: 10:00 is 3 h after the confirmation, it goes then.
        (at("Europe/Paris", 2027, 3, 28, 7, 0), 120, at("Europe/Paris", 2027, 3, 28, 10, 0)),
        # Booked the eve at 09:00: 10:00 is within the 2 h gap after the confirmation.
        (at("Europe/Paris", 2027, 3, 28, 9, 0), 120, None),
        # Booked on the day itself (00:10 for 09:00): never "tomorrow".
        (at("Europe/Paris", 2027, 3, 29, 0, 10), 0, None),
    ],
)
def test_late_bookings(agent_in, settings, now, gap, expected):
    settings.NOTIFICATIONS_DAY_BEFORE_MIN_GAP_MINUTES = gap
    structure, agent = agent_in("Europe/Paris")
    row = planned(structure, agent, at("Europe/Paris", 2027, 3, 29, 9, 0), now=now)
    if expected is None:
        assert row is None
    else:
        assert row is not None and row.due_at == (now if expected == "now" else expected)


def test_a_day_before_message_still_waiting_on_the_day_is_voided(agent_in):
    # Retried past midnight (provider down all evening), it would say "demain": it is voided.
    structure, agent = agent_in("Europe/Paris")
    start = at("Europe/Paris", 2027, 3, 29, 9, 0)
    row = planned(structure, agent, start, now=start - dt.timedelta(days=5))
    report = delivery.deliver([row.pk], now=at("Europe/Paris", 2027, 3, 29, 0, 1))
    row.refresh_from_db()
    assert report.voided == [row.pk] and row.status == State.VOIDED
    assert row.last_error == "the day before has passed"
