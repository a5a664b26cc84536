"""Celery for real: a worker process (with beat) on a Redis broker, sending through the
local SMTP and Twilio servers; killed with SIGKILL mid-batch and restarted."""

from __future__ import annotations

import datetime as dt
import signal
from collections import Counter

import pytest
from django.utils import timezone

from notifications.models import Kind, Notification, State
from portal.celery import app as celery_app
from portal.models import Channel
from tests import factories
from tests.waiting import wait_until

pytestmark = pytest.mark.services


def book_many(structure, agent, count: int, **fields) -> list:
    phones = [f"+336120{i:05d}" for i in range(count)]
    return [
        factories.appointment(structure, agent, preferred_channel=Channel.SMS, citizen_phone=phone, **fields)
        for phone in phones
    ]


def states() -> Counter:
    return Counter(Notification.objects.values_list("status", flat=True))


def worker_until(worker, condition, timeout: float) -> None:
    """Wait on `condition`; on time-out, say so with the worker's log as it is then."""
    wait_until(condition, timeout, interval=0.1, what=lambda: f"the worker; its log:\n{worker.log()}")


def test_worker_sends_the_confirmation_now_and_the_reminder_at_its_time(
    transactional_db, structure_a, alice, providers, start_worker
):
    twilio, smtp = providers
    structure_a.reminder_minutes = 1
    structure_a.save()
    start = timezone.now() + dt.timedelta(minutes=1, seconds=5)
    appointment = factories.appointment(structure_a, alice, preferred_channel=Channel.EMAIL, start=start)
    reminder = Notification.objects.get(appointment=appointment, kind=Kind.REMINDER)
    assert reminder.dispatched_at is not None  # queued at save time, with an ETA
    worker = start_worker()
    worker_until(worker, lambda: states() == Counter({State.SENT: 2}), 30)
    reminder.refresh_from_db()
    assert reminder.status == State.SENT
    # Not before its time (the ETA was honoured); how late under load is bench/reminders_bench's
    # business, the wait above only bounds it.
    assert reminder.sent_at >= reminder.due_at, (reminder.sent_at, reminder.due_at)
    subjects = [m.message["Subject"] for m in smtp.to("jeanne.dupont@example.org")]
    assert "rendez-vous en visio le" in subjects[0] and "commence" in subjects[1]
    assert twilio.messages == []


def test_temporary_errors_are_retried_by_the_worker_until_sent_once(
    transactional_db, structure_a, alice, providers, start_worker
):
    twilio, _smtp = providers
    twilio.answers["+33612000000"] = [500, 429, 201]
    # No email: nothing to switch to (with one, the reminder, 10 minutes from the start, would
    # go by email at its first failure: test_fallback.py), so the worker retries SMS.
    (appointment,) = book_many(structure_a, alice, 1, start=timezone.now() + dt.timedelta(minutes=10), citizen_email="")
    worker = start_worker()
    worker_until(worker, lambda: states() == Counter({State.SENT: 2}), 30)
    rows = Notification.objects.filter(appointment=appointment)
    # Confirmation and reminder share the number: 500 and 429 hit them, then both get through.
    assert sum(rows.values_list("attempts", flat=True)) == 4 == twilio.requests
    assert set(rows.values_list("last_error", flat=True)) == {""}  # cleared once sent
    assert len(twilio.sent_to("+33612000000")) == 2


def test_reminders_queued_while_the_broker_was_down_are_sent_by_the_sweep(
    transactional_db, structure_a, alice, providers, start_worker
):
    twilio, _smtp = providers
    good_broker = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    celery_app._after_fork()
    try:
        appointments = book_many(structure_a, alice, 3, start=timezone.now() + dt.timedelta(minutes=10))
    finally:
        celery_app.conf.broker_url = good_broker
        celery_app._after_fork()
    assert len(appointments) == 3  # booking worked anyway
    assert not Notification.objects.filter(dispatched_at__isnull=False).exists()
    worker = start_worker()
    worker_until(worker, lambda: states() == Counter({State.SENT: 6}), 30)
    assert len(twilio.messages) == 6


def test_worker_killed_mid_batch_then_restarted_sends_every_reminder_exactly_once(
    transactional_db, structure_a, alice, providers, start_worker
):
    twilio, _smtp = providers
    twilio.delay = 0.25  # so that the kill lands while messages are in flight
    count = 30
    # Starting in 10 minutes: each reminder is due at once (late booking), with its confirmation.
    book_many(structure_a, alice, count, start=timezone.now() + dt.timedelta(minutes=10))
    worker = start_worker(concurrency=4)
    worker_until(worker, lambda: twilio.requests >= 12, 40)
    worker.kill(signal.SIGKILL)  # the whole process group: worker, its threads and beat
    at_kill = len(twilio.messages)
    assert at_kill < 2 * count, "the batch was over before the kill"
    in_flight = Notification.objects.filter(status=State.QUEUED, claimed_at__isnull=False).count()
    assert in_flight > 0, "no message was being sent at the kill"

    worker = start_worker(concurrency=4)
    worker_until(worker, lambda: states() == Counter({State.SENT: 2 * count}), 60)
    per_number = Counter((m.to, "Code" in m.body) for m in twilio.messages)
    assert len(per_number) == 2 * count and set(per_number.values()) == {1}, per_number.most_common(3)
    assert len(twilio.messages) == 2 * count  # no duplicate
    taken_over = Notification.objects.filter(attempts__gte=2)
    assert taken_over.count() >= in_flight  # the claims of the dead worker were taken over
    sids = set(Notification.objects.values_list("provider_id", flat=True))
    assert sids == {m.sid for m in twilio.messages}
