"""The retention purge, on a frozen clock: after the delays the citizen's personal data is
gone from every text and JSON column of every model (a generic scan, not a list) and from
the log output; the statistics are unchanged; a second run changes nothing; an interrupted
run resumes; the dry run prints the counts a real run purges."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import models

from notifications.models import Notification
from portal import retention
from portal.models import Appointment, WeeklyCount
from portal.stats import counters as statistics
from rooms.models import ChatMessage, IdentityCheck, JoinAttempt
from tests import factories
from tests.retention.conftest import ADDRESS, EMAIL, FIRST, LAST, NATIONAL, PHONE, WRONG_ADDRESS, call, live, remind

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField, models.GenericIPAddressField, models.BinaryField)
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)  # a Monday, 9:00 in Paris


def needles(*values: str) -> list[str]:
    return [v.lower() for v in values]


CITIZEN = needles(FIRST + " ", LAST, PHONE, PHONE[3:], NATIONAL, NATIONAL.replace(" ", ""), EMAIL)
ADDRESSES = needles(ADDRESS, WRONG_ADDRESS)


def scan(words: list[str]) -> list[str]:
    """Every (model.field #pk) whose text or JSON holds one of `words`: every concrete text,
    JSON, address and binary column of every installed model."""
    found = []
    for model in apps.get_models():
        if not model._meta.managed or model._meta.proxy:
            continue
        names = [f.attname for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS)]
        if not names:
            continue
        for row in model._default_manager.values_list("pk", *names).iterator():
            for name, value in zip(names, row[1:], strict=True):
                if isinstance(value, bytes | memoryview):  # binary states (the notes' Yjs document) hold UTF-8
                    value = bytes(value).decode("utf-8", "replace")
                text = (value if isinstance(value, str) else json.dumps(value, default=str)).lower()
                found += [f"{model._meta.label}.{name} #{row[0]}: {w}" for w in words if w in text]
    return found


def counters() -> dict:
    return {(c.structure_id, c.agent_id, c.week, c.metric): c.value for c in WeeklyCount.objects.all()}


@pytest.fixture
def history(structure_a, structure_b, alice, twilio, smtp, django_capture_on_commit_callbacks, caplog):
    """Jeanne's appointment in A (retention 30 days) and someone else's in B (365 days), lived
    through the real actions with the clock moved from booking to the end of the call."""
    caplog.set_level(logging.DEBUG)
    structure_a.retention_days = 30
    structure_a.save()
    bob = factories.member(structure_b)
    start = T0 + dt.timedelta(days=2)
    with time_machine.travel(T0, tick=False):
        jeanne = live(structure_a, alice, start, django_capture_on_commit_callbacks)
        other = live(structure_b, bob, start, django_capture_on_commit_callbacks, first="Paul", last="Martinot",
                     phone="+33699887766", email="paul.martinot@example.org")
    with time_machine.travel(start - dt.timedelta(minutes=14), tick=False):
        remind(django_capture_on_commit_callbacks)
    with time_machine.travel(start + dt.timedelta(minutes=1), tick=False):
        call(jeanne, alice, django_capture_on_commit_callbacks)
        call(other, bob, django_capture_on_commit_callbacks)
    return jeanne, other


def test_after_the_delays_the_citizen_is_gone_everywhere_and_the_statistics_stay(history, twilio, caplog):
    jeanne, other = history
    assert scan(CITIZEN) and scan(ADDRESSES)  # the scan sees them before
    assert twilio.sent_to(PHONE)  # Twilio keeps the texts
    sms_sids = set(Notification.objects.filter(appointment=jeanne.appointment, channel="sms")
                   .exclude(provider_id="").values_list("provider_id", flat=True))
    assert sms_sids

    # Ten days later: addresses and Twilio's copies are gone, the citizen's appointment stays.
    with time_machine.travel(jeanne.start + dt.timedelta(days=10), tick=False):
        retention.run()
    assert not scan(ADDRESSES)
    assert not JoinAttempt.objects.exists()
    assert not twilio.sent_to(PHONE) and sms_sids <= set(twilio.deleted)
    assert Appointment.objects.get(pk=jeanne.appointment.pk).citizen_last_name == LAST
    counted = counters()
    assert counted  # both appointments counted, a day after they ended
    assert statistics.report(jeanne.appointment.structure, T0.date(), T0.date()).total()["held"] == 1

    # Past 30 days: the dry run says what the run does, then nothing of Jeanne is left.
    caplog.clear()
    when = jeanne.start + dt.timedelta(days=31)
    with time_machine.travel(when, tick=False):
        out = io.StringIO()
        call_command("purge", "--dry-run", stdout=out)
        dry = retention.run(dry_run=True)
        done = retention.run()
        again = retention.run()

    assert dry.purged == done.purged and dry.counted == done.counted
    assert done.purged["appointments"] == 1 and done.purged["chat"] == 1 and done.purged["notifications"] >= 3
    for name, n in done.purged.items():
        assert f"{name}: would purge {n}" in out.getvalue()
    assert again.purged == {} and again.counted == 0
    leftovers = [hit for hit in scan(CITIZEN)]
    assert not leftovers, leftovers
    assert not ChatMessage.objects.filter(room__appointment=jeanne.appointment).exists()
    assert IdentityCheck.objects.filter(appointment=jeanne.appointment).exists()  # its own, longer delay
    assert counters() == counted  # the statistics did not move

    # The other structure keeps a year: Paul is still there.
    assert Appointment.objects.get(pk=other.appointment.pk).citizen_last_name == "Martinot"
    assert scan(needles("Martinot"))

    # A year later, the ID-check audit lines go too; the counters still do not move.
    with time_machine.travel(jeanne.start + dt.timedelta(days=366), tick=False):
        retention.run()
    assert not IdentityCheck.objects.exists()
    assert not scan(needles("Martinot", "+33699887766", "paul.martinot@example.org"))
    assert counters() == counted

    logged = "\n".join(record.getMessage() for record in caplog.records).lower()
    assert "retention purge" in logged
    for word in CITIZEN + ADDRESSES:
        assert word not in logged, word


def test_logs_of_the_whole_life_carry_no_name_phone_email_or_address(history, caplog):
    records = caplog.get_records("setup")  # the fixture lived the whole life
    logged = "\n".join(record.getMessage() + str(record.args) for record in records).lower()
    assert "wrong room password" in logged and "notifications.deliver" in logged
    for word in CITIZEN + ADDRESSES:  # an address only as its network (portal/logprivacy.py)
        assert word not in logged, word
    assert "network=198.51.100.0/24" in logged  # the wrong code's line still says where from


def test_an_interrupted_run_resumes_and_the_dry_run_counted_it_all(structure_a, alice, twilio, smtp,
                                                                   django_capture_on_commit_callbacks):
    start = T0 + dt.timedelta(days=2)
    with time_machine.travel(T0, tick=False):
        histories = [live(structure_a, alice, start + dt.timedelta(hours=i), django_capture_on_commit_callbacks,
                          last=f"Durand{i}") for i in range(4)]
    for history in histories:
        with time_machine.travel(history.start + dt.timedelta(minutes=1), tick=False):
            call(history, alice, django_capture_on_commit_callbacks)
    when = start + dt.timedelta(days=120)
    with time_machine.travel(when, tick=False):
        planned = retention.run(dry_run=True)
        first = retention.run(batch_size=1, max_batches=1)  # cut short: one row of each kind
        assert 0 < first.purged["appointments"] < planned.purged["appointments"]
        twilio.delete_answers[:] = [500]  # the provider fails: the other kinds go on, this one waits
        failing = retention.run(batch_size=1)
        assert list(failing.deferred) == ["sms_provider"] and "500" in failing.deferred["sms_provider"]
        assert "sms_provider" not in failing.purged
        assert not Appointment.objects.filter(personal_data_purged_at=None).exists()  # the rest was done
        remaining = retention.run(dry_run=True)
        rest = retention.run(batch_size=2)
        last = retention.run()
    assert rest.purged == remaining.purged  # the dry run is right mid-way too
    for name, n in planned.purged.items():
        assert first.purged.get(name, 0) + rest.purged.get(name, 0) <= n
    assert rest.purged["sms_provider"] >= 1 and len(twilio.deleted) == planned.purged["sms_provider"]
    assert rest.deferred == {}
    assert last.purged == {} and last.counted == 0
    assert not scan(needles("Durand"))
    assert Appointment.objects.filter(personal_data_purged_at__isnull=False).count() == 4
    assert WeeklyCount.objects.filter(metric="booked").get().value == 4


def test_the_dry_run_changes_nothing(structure_a, alice, django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False):
        live(structure_a, alice, T0 + dt.timedelta(hours=2), django_capture_on_commit_callbacks)
    with time_machine.travel(T0 + dt.timedelta(days=400), tick=False):
        before = scan(CITIZEN)
        result = retention.run(dry_run=True)
        assert result.purged["appointments"] == 1 and result.counted == 1
        assert scan(CITIZEN) == before
        assert not WeeklyCount.objects.exists()
        assert Appointment.objects.get().counted_at is None


def test_the_purge_help_says_what_is_kept_how_long(settings, capsys):
    settings.RETENTION_IDCHECK_DAYS = 180
    with pytest.raises(SystemExit):
        call_command("purge", "--help")
    text = capsys.readouterr().out
    for name in retention.REGISTRY:
        assert f"  {name}: " in text
    assert ("180 days" in text or "180 jours" in text) and "RETENTION_" not in text  # in the deployment's language


def test_an_unknown_kind_is_refused_clearly():
    with pytest.raises(ValueError, match="unknown kind"):
        retention.run(kinds=["telephone_calls"])


def test_a_kind_is_registered_once():
    kind = retention.REGISTRY["chat"]
    with pytest.raises(ValueError, match="twice"):
        retention.register(kind)


def test_beat_runs_the_purge_task(settings, structure_a, alice, django_capture_on_commit_callbacks):
    from portal.tasks import purge

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "portal.purge")
    assert entry["schedule"] == settings.RETENTION_PURGE_SECONDS
    with time_machine.travel(T0, tick=False):
        live(structure_a, alice, T0 + dt.timedelta(hours=2), django_capture_on_commit_callbacks)
    with time_machine.travel(T0 + dt.timedelta(days=400), tick=False):
        done = purge.apply().get()
    assert done["counted"] == 1 and done["appointments"] == 1
    assert not scan(CITIZEN)


def test_the_structure_page_says_what_is_kept_how_long(structure_a, maude, client_of, settings):
    settings.RETENTION_ADDRESS_DAYS = 3
    page = client_of(maude).get(f"/admin/portal/structure/{structure_a.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "3 days" in text or "3 jours" in text
    assert "Twilio" in text
