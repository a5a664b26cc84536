"""The day-before message: planned at booking (off per structure), moved with the
appointment, voided at cancellation, and carrying the device-test and cancel/move links."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from django.utils import timezone

from notifications import delivery, messages
from notifications.models import Kind, Notification, State
from portal import booking
from portal.models import Channel
from tests import factories
from tests.notifications.links import long_link

EMAIL = "jeanne.dupont@example.org"


IN_3_DAYS = dt.timedelta(days=3)


def eve_at_ten(start: dt.datetime) -> dt.datetime:
    """10:00 in Paris on the day before `start`'s day in Paris."""
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    eve = start.astimezone(paris).date() - dt.timedelta(days=1)
    return dt.datetime.combine(eve, dt.time(10, 0), tzinfo=paris)


def day_before(appointment, **filters) -> list[Notification]:
    return list(Notification.objects.filter(appointment=appointment, kind=Kind.DAY_BEFORE, **filters))


def test_planned_a_day_ahead_and_sent_then_with_the_test_and_manage_links(providers, book, client):
    _twilio, smtp = providers
    appointment = book(preferred_channel=Channel.EMAIL, start=timezone.now() + IN_3_DAYS)
    (planned,) = day_before(appointment)
    assert planned.status == State.QUEUED and planned.due_at == eve_at_ten(appointment.start)
    too_early = planned.due_at - delivery.early_window() - dt.timedelta(seconds=1)
    assert delivery.deliver([planned.pk], now=too_early).sent == []
    assert delivery.deliver([planned.pk], now=planned.due_at).sent == [planned.pk]
    mail = next(m for m in smtp.to(EMAIL) if "demain" in m.message["Subject"])
    body = mail.message.get_body(("plain",)).get_content()
    assert "testez dès maintenant votre caméra, votre micro et votre connexion" in body
    test_link = re.search(r"https://\S+/rdv/\S+/test/", body).group(0)
    manage_link = re.search(r"https://\S+/rdv/[^/\s]+/(?=\s)", body).group(0)
    page = client.get(test_link.removeprefix("https://visio.example.fr"))
    assert page.status_code == 200 and page.context["appointment"] == appointment
    assert client.get(manage_link.removeprefix("https://visio.example.fr")).context["can_cancel"]


def test_sms_version_carries_the_test_page_which_links_to_cancel_or_move(structure_a, alice, client):
    appointment = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=2))
    notification = factories.notification(appointment, Kind.DAY_BEFORE, Channel.SMS, due_at=timezone.now())
    body = messages.render(notification).body
    assert body.startswith("Mairie A : RDV visio demain à ")
    # One link (a short one), the test page leads on to cancel or move.
    test_link = long_link(body)
    assert re.fullmatch(r"https://\S+/rdv/\S+/test/", test_link)
    page = client.get(test_link.removeprefix("https://visio.example.fr")).content.decode()
    assert f'href="{test_link.removeprefix("https://visio.example.fr").removesuffix("test/")}"' in page


def test_confirmation_email_also_offers_the_test(providers, book):
    _twilio, smtp = providers
    book(preferred_channel=Channel.EMAIL, start=timezone.now() + dt.timedelta(hours=3))
    (mail,) = smtp.to(EMAIL)
    assert re.search(r"https://\S+/rdv/\S+/test/", mail.message.get_body(("plain",)).get_content())


def test_not_planned_when_the_structure_turned_it_off(book, structure_a):
    # (On the day itself, or too close to the confirmation: tests/notifications/test_day_before_dates.py.)
    structure_a.day_before_message = False
    structure_a.save()
    assert day_before(book(start=timezone.now() + IN_3_DAYS)) == []


def test_moving_the_appointment_replans_it_and_cancelling_voids_it(book, django_capture_on_commit_callbacks):
    appointment = book(start=timezone.now() + IN_3_DAYS)
    (first,) = day_before(appointment)
    later = appointment.start + dt.timedelta(days=2)
    previous, appointment.start = appointment.start, later
    with django_capture_on_commit_callbacks(execute=True):
        booking.update(appointment, previous)
    first.refresh_from_db()
    assert first.status == State.VOIDED
    (second,) = day_before(appointment, status=State.QUEUED)
    assert second.due_at == eve_at_ten(later)
    with django_capture_on_commit_callbacks(execute=True):
        booking.cancel(appointment)
    second.refresh_from_db()
    assert second.status == State.VOIDED and second.last_error == "appointment cancelled"
    assert delivery.deliver([second.pk], now=second.due_at).sent == []
