"""Fall back early, fail loudly: the real Twilio SDK against the local Twilio server, and
SMTP to aiosmtpd. Time is passed explicitly (`now=`)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.utils import timezone

from notifications import delivery
from notifications.models import Kind, Notification, SmsOptOut, State
from portal import health
from portal.models import Channel, Heartbeat
from tests.notifications.test_delivery import EMAIL, PHONE, row, send


def reminder_mails(smtp):
    return [m for m in smtp.to(EMAIL) if "commence" in m.message["Subject"]]


def code_sms(twilio):
    return [m for m in twilio.sent_to(PHONE) if "Code" in m.body]


def test_two_temporary_sms_failures_switch_the_reminder_to_email(providers, book):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    twilio.answers[PHONE] = [500]
    first = delivery.deliver([reminder.pk], now=reminder.due_at)
    assert first.retry and not first.failed  # one failure: retried on SMS
    reminder.refresh_from_db()
    assert reminder.status == State.QUEUED and reminder.problem == "provider_down"
    second_try = reminder.due_at
    send([reminder.pk], now=second_try)  # about 30 s later, 14 minutes before the start
    reminder.refresh_from_db()
    assert reminder.status == State.FAILED and "2 temporary failures: sent by email instead" in reminder.last_error
    fallback = reminder.fallback
    assert fallback.channel == Channel.EMAIL and fallback.status == State.SENT
    assert appointment.start - fallback.sent_at > dt.timedelta(minutes=14)  # not at the deadline
    assert len(reminder_mails(smtp)) == 1 and code_sms(twilio) == []


def test_a_reminder_with_less_than_ten_minutes_left_switches_at_the_first_failure(providers, book):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    reminder = row(appointment)
    twilio.answers[PHONE] = [503]
    send([reminder.pk], now=appointment.start - dt.timedelta(minutes=9))  # the worker was late
    reminder.refresh_from_db()
    assert reminder.attempts == 1 and reminder.status == State.FAILED and reminder.fallback.status == State.SENT
    assert len(reminder_mails(smtp)) == 1


def test_a_confirmation_with_smtp_down_goes_by_sms_within_minutes(providers, book):
    twilio, smtp = providers
    smtp.stop()
    appointment = book(preferred_channel=Channel.EMAIL, start=timezone.now() + dt.timedelta(days=3))
    confirmation = row(appointment, Kind.CONFIRMATION)
    assert confirmation.status == State.QUEUED and confirmation.attempts == 1  # first failure: retried
    send([confirmation.pk], now=confirmation.due_at)
    confirmation.refresh_from_db()
    assert confirmation.status == State.FAILED and "sent by sms instead" in confirmation.last_error
    assert confirmation.due_at - confirmation.created_at < dt.timedelta(minutes=5)
    (sms,) = twilio.sent_to(PHONE)
    assert "RDV visio confirmé" in sms.body and confirmation.fallback.status == State.SENT


def test_the_confirmation_window_applies_whatever_the_failure_count(providers, book, settings):
    twilio, smtp = providers
    settings.NOTIFICATIONS_FALLBACK_AFTER_FAILURES = 100
    smtp.rcpt_answers[EMAIL] = "451 4.3.0 Try again later"
    appointment = book(preferred_channel=Channel.EMAIL, start=timezone.now() + dt.timedelta(days=3))
    confirmation = row(appointment, Kind.CONFIRMATION)
    tries = 1
    while confirmation.status == State.QUEUED:
        send([confirmation.pk], now=confirmation.due_at)
        confirmation.refresh_from_db()
        tries += 1
        assert tries < 10
    assert confirmation.status == State.FAILED and "still failing after minutes" in confirmation.last_error
    last_attempt = confirmation.fallback.created_at
    assert 3 <= confirmation.attempts <= 5 and last_attempt is not None
    assert len(twilio.sent_to(PHONE)) == 1


def test_without_the_other_channel_temporary_failures_keep_retrying(providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS, citizen_email="")
    reminder = row(appointment)
    twilio.answers[PHONE] = [500, 500, 500, 201]
    for _ in range(4):
        delivery.deliver([reminder.pk], now=reminder.due_at)
        reminder.refresh_from_db()
    assert reminder.status == State.SENT and reminder.attempts == 4 and len(code_sms(twilio)) == 1


def test_rotated_twilio_credentials_alert_operations_and_use_email(providers, book, settings, caplog):
    twilio, smtp = providers
    twilio.auth_token = "rotated-on-the-console"  # ours no longer matches: every call is 401
    caplog.set_level(logging.ERROR, logger="notifications")
    appointment = book(preferred_channel=Channel.SMS)
    confirmation = row(appointment, Kind.CONFIRMATION, channel=Channel.SMS)
    assert confirmation.status == State.FAILED and confirmation.attempts == 1  # not retried
    assert confirmation.problem == "sms_credentials" and "TWILIO_AUTH_TOKEN" in confirmation.explanation()
    assert "Tell the technical team" not in confirmation.explanation()  # French for agents
    assert confirmation.fallback.status == State.SENT and len(smtp.to(EMAIL)) == 1
    assert any(r.name == "notifications.alerts" and "sms_credentials" in r.getMessage() for r in caplog.records)
    assert Heartbeat.objects.filter(name="sms_credentials").exists() and health.alerts().sms_credentials
    # The following messages of the appointment go by email without trying Twilio again.
    reminder = row(appointment)
    assert reminder.channel == Channel.EMAIL
    delivery.deliver([reminder.pk], now=reminder.due_at)
    assert len(reminder_mails(smtp)) == 1 and twilio.requests == 0


@pytest.mark.parametrize(
    ("answer", "problem", "words"),
    [
        ((400, 21211), "invalid_number", "Numéro de téléphone invalide"),
        ((400, 21614), "not_mobile", "mobile"),
        ((400, 21610), "unsubscribed", "STOP"),
        ((400, 21612), "carrier_rejected", "opérateur"),
        ((400, 21408), "region_blocked", "équipe technique"),
    ],
)
def test_twilio_codes_become_french_explanations_and_the_rest_goes_by_email(
    providers, book, caplog, answer, problem, words
):
    twilio, smtp = providers
    caplog.set_level(logging.ERROR, logger="notifications")
    twilio.answers[PHONE] = [answer]
    appointment = book(preferred_channel=Channel.SMS)
    confirmation = row(appointment, Kind.CONFIRMATION, channel=Channel.SMS)
    assert confirmation.status == State.FAILED and confirmation.problem == problem
    assert words in confirmation.explanation() and confirmation.recipient == PHONE
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and f"[{problem}]" in r.getMessage()]
    assert logged and str(answer[1]) in logged[0].getMessage()  # permanent failures are logged at ERROR
    assert confirmation.fallback.channel == Channel.EMAIL and confirmation.fallback.status == State.SENT
    assert row(appointment).channel == Channel.EMAIL  # the reminder moved too
    stopped = SmsOptOut.objects.filter(phone=PHONE, structure=appointment.structure, opted_out=True).exists()
    assert stopped == (problem == "unsubscribed")


def test_a_bounced_address_moves_the_following_emails_to_sms(providers, book):
    twilio, smtp = providers
    smtp.rcpt_answers[EMAIL] = "550 5.1.1 No such user"
    appointment = book(preferred_channel=Channel.EMAIL)
    confirmation = row(appointment, Kind.CONFIRMATION, channel=Channel.EMAIL)
    assert confirmation.problem == "email_rejected" and "adresse" in confirmation.explanation().lower()
    reminder = row(appointment)
    assert reminder.channel == Channel.SMS
    assert delivery.deliver([reminder.pk], now=reminder.due_at).sent == [reminder.pk]
    assert len(code_sms(twilio)) == 1 and smtp.to(EMAIL) == []


def test_smtp_credentials_refused_raise_the_email_alert(providers, book):
    twilio, smtp = providers
    smtp.rcpt_answers[EMAIL] = "535 5.7.8 Authentication credentials invalid"
    appointment = book(preferred_channel=Channel.EMAIL)
    confirmation = row(appointment, Kind.CONFIRMATION, channel=Channel.EMAIL)
    assert confirmation.problem == "email_credentials" and health.alerts().email_credentials
    assert "EMAIL_HOST_PASSWORD" in confirmation.explanation()
    assert len(twilio.sent_to(PHONE)) == 1  # the confirmation went by SMS


def test_a_later_booking_change_plans_on_the_channel_that_works(providers, book, django_capture_on_commit_callbacks):
    from tests.notifications.test_delivery import reschedule

    twilio, smtp = providers
    twilio.answers[PHONE] = [(400, 30006)]
    appointment = book(preferred_channel=Channel.SMS)
    assert row(appointment, Kind.CONFIRMATION, channel=Channel.SMS).problem == "not_mobile"
    reschedule(appointment, appointment.start + dt.timedelta(hours=1), django_capture_on_commit_callbacks)
    assert row(appointment, status=State.QUEUED).channel == Channel.EMAIL
    assert Notification.objects.get(appointment=appointment, kind=Kind.RESCHEDULED).channel == Channel.EMAIL
