"""The Notification rows are written in the booking's own transaction (real PostgreSQL
transactions: `transactional_db`, commits and rollbacks happen for real); only the
queueing of their tasks waits for the commit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from notifications import delivery, receivers
from notifications.models import Kind, Notification, State
from portal import booking
from portal.models import Appointment, Channel
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = "+33612345678"


class Crash(Exception):
    pass


def in_two_hours() -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=2)


def test_a_booking_rolled_back_leaves_no_row_and_sends_nothing(structure_a, alice, providers):
    twilio, smtp = providers
    with pytest.raises(Crash), transaction.atomic():
        factories.appointment(structure_a, alice, preferred_channel=Channel.SMS, start=in_two_hours())
        assert Notification.objects.count() == 2  # confirmation and reminder: written already
        raise Crash  # the rest of the request failed
    assert not Appointment.objects.exists() and not Notification.objects.exists()
    assert twilio.messages == [] and list(smtp.received) == []


def test_rows_failing_to_be_written_roll_the_booking_back(structure_a, alice, providers, monkeypatch):
    def broken(*args, **kwargs):
        raise Crash("database refused the row")

    monkeypatch.setattr(delivery, "_create", broken)
    with pytest.raises(Crash):
        factories.appointment(structure_a, alice, start=in_two_hours())
    assert not Appointment.objects.exists()  # no appointment without its messages


def test_a_crash_between_commit_and_queueing_leaves_the_rows_and_the_sweep_sends_them(
    structure_a, alice, providers, monkeypatch
):
    twilio, _smtp = providers

    def died(plan):  # the process died right after the commit, before reaching the broker
        raise Crash("killed after commit")

    monkeypatch.setattr(receivers, "publish", died)
    with pytest.raises(Crash):
        factories.appointment(structure_a, alice, preferred_channel=Channel.SMS, start=in_two_hours())
    appointment = Appointment.objects.get()  # committed
    rows = Notification.objects.filter(appointment=appointment)
    assert {(n.kind, n.status) for n in rows} == {(Kind.CONFIRMATION, State.QUEUED), (Kind.REMINDER, State.QUEUED)}
    assert not rows.filter(dispatched_at__isnull=False).exists() and twilio.messages == []
    confirmation, reminder = rows.get(kind=Kind.CONFIRMATION), rows.get(kind=Kind.REMINDER)
    plan = delivery.sweep()  # the beat's next run
    assert [pk for pk, _due in plan.items] == [confirmation.pk]
    assert delivery.deliver([confirmation.pk]).sent == [confirmation.pk]
    (sms,) = twilio.sent_to(PHONE)
    assert "RDV visio confirmé" in sms.body
    close = reminder.due_at - delivery.horizon()  # later runs queue the planned ones as they come close
    assert reminder.pk in [pk for pk, _due in delivery.sweep(now=close).items]
    assert delivery.deliver([reminder.pk], now=reminder.due_at).sent == [reminder.pk]


def test_a_cancellation_rolled_back_keeps_the_reminder(structure_a, alice, providers):
    appointment = factories.appointment(structure_a, alice, start=in_two_hours())
    reminder = Notification.objects.get(appointment=appointment, kind=Kind.REMINDER)
    with pytest.raises(Crash), transaction.atomic():
        booking.cancel(appointment)
        assert Notification.objects.get(pk=reminder.pk).status == State.VOIDED
        raise Crash
    reminder.refresh_from_db()
    assert reminder.status == State.QUEUED and not Notification.objects.filter(kind=Kind.CANCELLED).exists()
