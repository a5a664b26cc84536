"""Delivery through real protocols: SMTP (aiosmtpd) and Twilio's API (the SDK against a
local server). Time is passed explicitly (`now=`) instead of waiting."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from notifications import delivery, messages
from notifications.backends import get_backend
from notifications.models import Kind, Notification, State
from portal import booking
from portal.models import Channel
from tests.notifications.conftest import CALLBACK_URL
from tests.notifications.links import long_link
from tests.notifications.servers import FROM_NUMBER

PHONE = "+33612345678"
EMAIL = "jeanne.dupont@example.org"


def send(ids, now):
    """A task's run at `now`, then the fallbacks it queued (as the queue would)."""
    report = delivery.deliver(ids, now=now)
    for pk, due in report.dispatch.items:
        delivery.deliver([pk], now=max(due, now))
    return report


def row(appointment, kind=Kind.REMINDER, **filters) -> Notification:
    return Notification.objects.get(appointment=appointment, kind=kind, **filters)


def test_booking_sends_the_confirmation_by_email_with_an_invitation(providers, book):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.EMAIL)
    confirmation = row(appointment, Kind.CONFIRMATION)
    assert confirmation.status == State.SENT and confirmation.channel == Channel.EMAIL
    (mail,) = smtp.to(EMAIL)
    assert mail.message["Message-ID"] == confirmation.provider_id == messages.message_id(confirmation)
    assert mail.message["Subject"].startswith("Mairie A : rendez-vous en visio le")
    parts = {part.get_content_type(): part for part in mail.message.walk()}
    assert "BEGIN:VCALENDAR" in parts["text/calendar"].get_content()
    assert "Votre rendez-vous en visioconférence avec Mairie A est confirmé" in parts["text/plain"].get_content()
    # The reminder waits for its time; nothing went out by SMS.
    reminder = row(appointment)
    assert reminder.status == State.QUEUED and reminder.due_at == appointment.start - dt.timedelta(minutes=15)
    assert twilio.messages == []


def test_reminder_goes_out_by_sms_at_its_time_only(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    # Not before its time (less the window in which a burst of reminders is handed out ahead).
    early = delivery.deliver([reminder.pk], now=reminder.due_at - delivery.early_window() - dt.timedelta(seconds=1))
    assert early.sent == [] and row(appointment).status == State.QUEUED
    report = delivery.deliver([reminder.pk], now=reminder.due_at)
    assert report.sent == [reminder.pk]
    confirmation_sms, reminder_sms = twilio.sent_to(PHONE)
    assert "RDV visio confirmé" in confirmation_sms.body
    assert reminder_sms.sender == FROM_NUMBER and reminder_sms.status_callback == CALLBACK_URL
    assert long_link(reminder_sms.body) == appointment.room.personal_url_for("sms")
    assert appointment.room.password in reminder_sms.body
    reminder.refresh_from_db()
    assert reminder.status == State.SENT and reminder.provider_id == reminder_sms.sid
    assert reminder.recipient == PHONE and reminder.attempts == 1 and reminder.sent_at is not None


def test_reminder_delay_is_per_structure(providers, book, structure_a):
    structure_a.reminder_minutes = 45
    structure_a.save()
    appointment = book()
    assert row(appointment).due_at == appointment.start - dt.timedelta(minutes=45)


def test_a_late_booking_gets_its_reminder_at_once(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS, start=timezone.now() + dt.timedelta(minutes=5))
    assert row(appointment).status == State.SENT
    assert len(twilio.sent_to(PHONE)) == 2


def test_duplicated_and_retried_tasks_send_once(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    due = reminder.due_at
    first = delivery.claim([reminder.pk], now=due)
    second = delivery.claim([reminder.pk], now=due)  # a duplicate arriving during the send
    assert list(first.ids) == [reminder.pk] and second.ids == {}
    delivery.process(second)
    delivery.process(first)
    for _ in range(3):  # redelivered tasks, after the fact
        assert delivery.deliver([reminder.pk], now=due + dt.timedelta(seconds=5)).sent == []
    assert len([m for m in twilio.sent_to(PHONE) if "Code" in m.body]) == 1


def test_twilio_5xx_and_429_are_retried_with_exponential_backoff(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS, citizen_email="")  # no other channel to switch to
    reminder = row(appointment)
    twilio.answers[PHONE] = [500, 429, 201]
    now = reminder.due_at
    report = delivery.deliver([reminder.pk], now=now)
    assert report.sent == [] and len(report.retry) == 1
    reminder.refresh_from_db()
    first_wait = reminder.due_at - now
    assert reminder.status == State.QUEUED and reminder.claimed_at is None and reminder.attempts == 1
    assert "Twilio 500" in reminder.last_error and dt.timedelta(seconds=24) <= first_wait <= dt.timedelta(seconds=36)
    assert delivery.deliver([reminder.pk], now=now).sent == []  # not before the backoff
    now = reminder.due_at
    delivery.deliver([reminder.pk], now=now)
    reminder.refresh_from_db()
    assert "Twilio 429" in reminder.last_error and reminder.due_at - now >= first_wait * 1.3  # about twice
    delivery.deliver([reminder.pk], now=reminder.due_at)
    reminder.refresh_from_db()
    assert reminder.status == State.SENT and reminder.attempts == 3 and reminder.last_error == ""
    assert len([m for m in twilio.sent_to(PHONE) if "Code" in m.body]) == 1


def test_temporary_errors_stop_at_the_start_and_fall_back(providers, book):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    twilio.answers[PHONE] = [503]
    now = appointment.start - dt.timedelta(seconds=20)  # less than the next backoff
    report = delivery.deliver([reminder.pk], now=now)
    reminder.refresh_from_db()
    assert reminder.status == State.FAILED and "too little time left" in reminder.last_error
    assert reminder.last_error.endswith("sent by email instead)") and reminder.problem == "provider_down"
    fallback = reminder.fallback
    assert fallback.channel == Channel.EMAIL and report.dispatch.items == [(fallback.pk, fallback.due_at)]
    delivery.deliver([fallback.pk], now=fallback.due_at)
    (mail,) = [m for m in smtp.to(EMAIL) if "commence" in m.message["Subject"]]
    assert appointment.room.password in mail.message.get_body().get_content()


def test_invalid_number_fails_at_once_and_falls_back_to_email(providers, book):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    twilio.answers[PHONE] = [400]
    send([reminder.pk], now=reminder.due_at)
    reminder.refresh_from_db()
    assert reminder.status == State.FAILED and reminder.attempts == 1 and "21211" in reminder.last_error
    assert reminder.fallback.status == State.SENT and reminder.fallback.channel == Channel.EMAIL
    assert any("commence" in m.message["Subject"] for m in smtp.to(EMAIL))


def test_without_another_address_a_failure_is_just_failed(providers, book):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.SMS, citizen_email="")
    twilio.answers[PHONE] = [400]
    reminder = row(appointment)
    delivery.deliver([reminder.pk], now=reminder.due_at)
    reminder.refresh_from_db()
    assert reminder.status == State.FAILED and not Notification.objects.filter(fallback_of=reminder).exists()


def test_smtp_4xx_is_retried_and_5xx_falls_back_to_sms(providers, book):
    twilio, smtp = providers
    smtp.rcpt_answers[EMAIL] = "450 4.2.1 Mailbox busy, try later"
    appointment = book(preferred_channel=Channel.EMAIL)
    confirmation = row(appointment, Kind.CONFIRMATION)
    assert confirmation.status == State.QUEUED and "SMTP 450" in confirmation.last_error
    smtp.rcpt_answers[EMAIL] = "550 5.1.1 No such user"
    send([confirmation.pk], now=confirmation.due_at)
    confirmation.refresh_from_db()
    assert confirmation.status == State.FAILED and "SMTP 550" in confirmation.last_error
    assert confirmation.fallback.channel == Channel.SMS and confirmation.fallback.status == State.SENT
    assert smtp.to(EMAIL) == [] and "RDV visio confirmé" in twilio.sent_to(PHONE)[0].body


def test_smtp_server_down_is_temporary(providers, book, settings):
    _twilio, smtp = providers
    smtp.stop()
    appointment = book(preferred_channel=Channel.EMAIL)
    confirmation = row(appointment, Kind.CONFIRMATION)
    assert confirmation.status == State.QUEUED and "SMTP unreachable" in confirmation.last_error
    assert confirmation.outcome_unknown  # the next attempt keeps the same Message-ID
    smtp.restart()  # same port again
    delivery.deliver([confirmation.pk], now=confirmation.due_at)
    confirmation.refresh_from_db()
    assert confirmation.status == State.SENT and len(smtp.to(EMAIL)) == 1


def test_sms_not_configured_fails_clearly_and_uses_email(smtp, book, settings):
    settings.NOTIFICATIONS_SMS_BACKEND = "notifications.backends.twilio_sms.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM_NUMBER = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    appointment = book(preferred_channel=Channel.SMS)
    confirmation = row(appointment, Kind.CONFIRMATION, channel=Channel.SMS)
    assert confirmation.status == State.FAILED
    assert confirmation.last_error.startswith("SMS is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN")
    assert confirmation.fallback.status == State.SENT and len(smtp.to(EMAIL)) == 1


def due_now(reminder: Notification) -> Notification:
    """Real time here: the provider's clock is compared with the claim's."""
    Notification.objects.filter(pk=reminder.pk).update(due_at=timezone.now())
    reminder.refresh_from_db()
    return reminder


def test_a_twilio_timeout_is_reconciled_not_sent_twice(providers, book, settings):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = due_now(row(appointment))
    settings.TWILIO_TIMEOUT_SECONDS = 0.3
    get_backend.__globals__["_instance"].cache_clear()
    twilio.delay = 0.6  # Twilio accepts the message but answers too late
    delivery.deliver([reminder.pk], now=reminder.due_at)
    reminder.refresh_from_db()
    assert reminder.status == State.QUEUED and reminder.outcome_unknown and "unreachable" in reminder.last_error
    twilio.delay = 0
    delivery.deliver([reminder.pk], now=max(reminder.due_at, timezone.now()))
    reminder.refresh_from_db()
    (sms,) = [m for m in twilio.sent_to(PHONE) if "Code" in m.body]
    assert reminder.status == State.SENT and reminder.provider_id == sms.sid and twilio.requests == 2


def test_a_worker_dead_after_the_provider_accepted_is_not_sent_twice(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = due_now(row(appointment))
    claim = delivery.claim([reminder.pk], now=reminder.due_at)
    # The worker sent the SMS, then died before recording it: the row stays claimed.
    fresh = Notification.objects.select_related("appointment__structure", "appointment__room").get(pk=reminder.pk)
    get_backend(Channel.SMS).send(messages.render(fresh))
    assert list(claim.ids) == [reminder.pk]
    soon = reminder.due_at + dt.timedelta(seconds=10)
    assert delivery.deliver([reminder.pk], now=soon).sent == []  # the claim may still be alive
    later = reminder.due_at + delivery.claim_timeout() + dt.timedelta(seconds=1)
    assert delivery.sweep(now=later).items == [(reminder.pk, later)]
    assert delivery.deliver([reminder.pk], now=later).sent == [reminder.pk]
    reminder.refresh_from_db()
    (sms,) = [m for m in twilio.sent_to(PHONE) if "Code" in m.body]
    assert reminder.status == State.SENT and reminder.provider_id == sms.sid and reminder.attempts == 2


def test_a_worker_dead_before_the_provider_call_sends_after_the_claim_expires(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    delivery.claim([reminder.pk], now=reminder.due_at)  # claimed, then the worker died
    later = reminder.due_at + delivery.claim_timeout() + dt.timedelta(seconds=1)
    assert delivery.deliver([reminder.pk], now=later).sent == [reminder.pk]
    assert len([m for m in twilio.sent_to(PHONE) if "Code" in m.body]) == 1


def test_no_reminder_for_a_cancelled_appointment_and_a_notice_instead(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    booking.cancel(appointment)  # the notice is written with the cancellation
    reminder.refresh_from_db()
    assert reminder.status == State.VOIDED and reminder.last_error == "appointment cancelled"
    delivery.deliver([reminder.pk], now=reminder.due_at)
    notice = row(appointment, Kind.CANCELLED)
    delivery.deliver([notice.pk])
    bodies = [m.body for m in twilio.sent_to(PHONE)]
    assert not any("Code" in b for b in bodies) and any("est annulé" in b for b in bodies)


def test_cancelled_while_the_reminder_is_claimed(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    claim = delivery.claim([reminder.pk], now=reminder.due_at)
    booking.cancel(appointment)  # commits between the claim and the send: voids it, claimed or not
    report = delivery.process(claim)
    assert report.sent == [] and row(appointment).status == State.VOIDED
    assert not any("Code" in m.body for m in twilio.sent_to(PHONE))


def test_no_reminder_after_the_start(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    report = delivery.deliver([reminder.pk], now=appointment.start + dt.timedelta(seconds=1))
    reminder.refresh_from_db()
    assert report.voided == [reminder.pk] and reminder.last_error == "start time passed"
    assert not any("Code" in m.body for m in twilio.sent_to(PHONE))


def reschedule(appointment, new_start, capture):
    previous = appointment.start
    appointment.start = new_start
    with capture(execute=True):
        booking.update(appointment, previous_start=previous)


def test_reschedule_voids_the_old_reminder_and_plans_a_new_one(providers, book, django_capture_on_commit_callbacks):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    old = row(appointment)
    reschedule(appointment, appointment.start + dt.timedelta(days=1), django_capture_on_commit_callbacks)
    old.refresh_from_db()
    new = row(appointment, status=State.QUEUED)
    assert old.status == State.VOIDED and new.due_at == appointment.start - dt.timedelta(minutes=15)
    notice = row(appointment, Kind.RESCHEDULED)
    assert notice.status == State.SENT and "RDV visio déplacé au" in twilio.sent_to(PHONE)[-1].body
    delivery.deliver([old.pk, new.pk], now=old.due_at)  # the old time: nothing
    assert delivery.deliver([old.pk, new.pk], now=new.due_at).sent == [new.pk]
    assert len([m for m in twilio.sent_to(PHONE) if "Code" in m.body]) == 1


def test_reschedule_while_the_old_reminder_is_claimed(providers, book, django_capture_on_commit_callbacks):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    old = row(appointment)
    claim = delivery.claim([old.pk], now=old.due_at)
    reschedule(appointment, appointment.start + dt.timedelta(hours=3), django_capture_on_commit_callbacks)
    assert delivery.process(claim).sent == []  # the claimed old reminder stops: voided meanwhile
    new = row(appointment, status=State.QUEUED)
    assert delivery.deliver([new.pk], now=new.due_at).sent == [new.pk]
    (sms,) = [m for m in twilio.sent_to(PHONE) if "Code" in m.body]
    assert f"commence à {appointment.local_start():%-H}h" in sms.body


def test_a_reminder_due_during_an_edit_uses_the_latest_data(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    claim = delivery.claim([reminder.pk], now=reminder.due_at)
    appointment.citizen_phone = "+33698765432"  # corrected by the agent after the claim
    booking.update(appointment, previous_start=appointment.start)
    delivery.process(claim)
    assert [m for m in twilio.sent_to("+33698765432") if "Code" in m.body]
    assert not [m for m in twilio.sent_to(PHONE) if "Code" in m.body]


def test_reschedule_across_dst_keeps_wall_clock_reminders(providers, book, django_capture_on_commit_callbacks):
    _twilio, _smtp = providers
    # Sat 27 March 2027 10:00 CET → Sun 28 March 10:00 CEST (the clocks go forward that night).
    appointment = book(preferred_channel=Channel.SMS, start=dt.datetime(2027, 3, 27, 9, 0, tzinfo=dt.UTC))
    assert row(appointment).due_at == dt.datetime(2027, 3, 27, 8, 45, tzinfo=dt.UTC)  # 09:45 CET
    reschedule(appointment, dt.datetime(2027, 3, 28, 8, 0, tzinfo=dt.UTC), django_capture_on_commit_callbacks)
    new = row(appointment, status=State.QUEUED)
    assert new.due_at == dt.datetime(2027, 3, 28, 7, 45, tzinfo=dt.UTC)  # 09:45 CEST
    assert "commence à 10h00" in messages.render(new).body


def test_sweep_queues_what_was_never_queued_and_what_was_lost(providers, book, settings, structure_a):
    structure_a.day_before_message = False  # one planned row to follow (the day-before has its own tests)
    structure_a.save()
    appointment = book(preferred_channel=Channel.SMS, start=timezone.now() + dt.timedelta(days=3))
    reminder = row(appointment)
    assert reminder.dispatched_at is None  # beyond the horizon: the sweep will queue it
    now = timezone.now()
    assert delivery.sweep(now=now).items == []
    close = reminder.due_at - delivery.horizon() + dt.timedelta(seconds=1)
    assert delivery.sweep(now=close).items == [(reminder.pk, reminder.due_at)]
    assert delivery.sweep(now=close).items == []  # queued once
    # The task was lost (broker restarted): after the grace period it is queued again.
    late = reminder.due_at + delivery.sweep_grace() + dt.timedelta(seconds=1)
    assert delivery.sweep(now=late).items == [(reminder.pk, late)]
    assert delivery.deliver([reminder.pk], now=late).sent == [reminder.pk]
    assert delivery.sweep(now=late + dt.timedelta(hours=1)).items == []


def test_a_burst_of_reminders_is_handed_out_ahead_and_ends_on_time(settings):
    """`batches`: 1,000 planned reminders due at the same second are spread before it at
    NOTIFICATIONS_RELEASE_RATE, the last batch on time; a lone one and a confirmation go
    at their time; nothing earlier than NOTIFICATIONS_EARLY_SECONDS."""
    from notifications.tasks import batches

    settings.NOTIFICATIONS_BATCH_SIZE, settings.NOTIFICATIONS_RELEASE_RATE = 25, 100
    settings.NOTIFICATIONS_EARLY_SECONDS = 120
    now = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
    due = now + dt.timedelta(minutes=10)
    burst = delivery.Dispatch([(pk, due) for pk in range(1000)], early=set(range(1000)))
    burst.items.append((5000, due))  # e.g. a confirmation due then: on time, not early
    planned = batches(burst, now)
    assert sorted(pk for ids, _eta in planned for pk in ids) == [*range(1000), 5000]  # each once
    etas = [eta for _ids, eta in planned]
    assert etas == sorted(etas) and max(etas) == due and min(etas) == due - dt.timedelta(seconds=9.75)
    assert [eta for ids, eta in planned if 5000 in ids] == [due]
    huge = delivery.Dispatch([(pk, due) for pk in range(100_000)], early=set(range(100_000)))
    assert min(eta for _ids, eta in batches(huge, now)) == due - dt.timedelta(seconds=120)
    lone = delivery.Dispatch([(1, due)], early={1})
    assert batches(lone, now) == [([1], due)]
    assert batches(delivery.Dispatch([(1, now - dt.timedelta(seconds=5))], early={1}), now) == [([1], None)]


def test_a_reminder_may_be_claimed_within_the_early_window_only_before_any_attempt(providers, book):
    appointment = book(preferred_channel=Channel.SMS, citizen_email="")
    reminder = row(appointment)
    ahead = reminder.due_at - delivery.early_window() + dt.timedelta(seconds=1)
    assert delivery.deliver([reminder.pk], now=ahead).sent == [reminder.pk]
    link = delivery.resend_link(appointment, by=appointment.agent)  # asked for: never early
    Notification.objects.filter(pk=link.pk).update(due_at=reminder.due_at)
    assert delivery.deliver([link.pk], now=ahead).sent == []
