"""Twilio's status callbacks, signed with the SDK's RequestValidator as Twilio does."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from notifications import delivery
from notifications.models import Kind, Notification, State
from portal.models import Channel
from tests import factories
from tests.notifications.conftest import CALLBACK_URL
from tests.notifications.servers import ACCOUNT_SID, AUTH_TOKEN

URL = reverse("notifications:twilio_status")
PHONE = "+33612345678"


def signature(params: dict, token: str = AUTH_TOKEN, url: str = CALLBACK_URL) -> str:
    return RequestValidator(token).compute_signature(url, params)


def callback(client, params: dict, sig: str | None = "auto"):
    headers = {}
    if sig == "auto":
        sig = signature(params)
    if sig is not None:
        headers["X-Twilio-Signature"] = sig
    # Twilio posts form-encoded bodies.
    return client.post(URL, urlencode(params), content_type="application/x-www-form-urlencoded", headers=headers)


@pytest.fixture
def sent_reminder(providers, structure_a, alice):
    """A reminder sent by SMS through the SDK (so it has a real SID)."""
    appointment = factories.appointment(
        structure_a, alice, preferred_channel=Channel.SMS, start=timezone.now() + dt.timedelta(hours=1)
    )
    reminder = factories.notification(appointment, Kind.REMINDER, Channel.SMS, due_at=timezone.now())
    assert delivery.deliver([reminder.pk]).sent == [reminder.pk]
    reminder.refresh_from_db()
    return reminder


def report(notification, status, **extra) -> dict:
    return {
        "MessageSid": notification.provider_id,
        "SmsSid": notification.provider_id,
        "AccountSid": ACCOUNT_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": PHONE,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def test_delivered(client, sent_reminder):
    response = callback(client, report(sent_reminder, "delivered"))
    assert response.status_code == 200
    sent_reminder.refresh_from_db()
    assert sent_reminder.status == State.DELIVERED and sent_reminder.delivered_at is not None


def test_a_late_sent_report_does_not_undo_delivered(client, sent_reminder):
    callback(client, report(sent_reminder, "delivered"))
    assert callback(client, report(sent_reminder, "sent")).status_code == 200
    sent_reminder.refresh_from_db()
    assert sent_reminder.status == State.DELIVERED


def test_undelivered_fails_the_row_and_falls_back_to_email(client, sent_reminder, providers):
    _twilio, smtp = providers
    response = callback(client, report(sent_reminder, "undelivered", ErrorCode="30003"))
    assert response.status_code == 200
    sent_reminder.refresh_from_db()
    assert sent_reminder.status == State.FAILED
    assert sent_reminder.last_error == "provider reported undelivered (error 30003)"
    assert sent_reminder.problem == "carrier_rejected" and "opérateur" in sent_reminder.explanation()
    assert sent_reminder.fallback.channel == Channel.EMAIL and sent_reminder.fallback.status == State.SENT
    assert len(smtp.to("jeanne.dupont@example.org")) == 1
    # The following messages of that appointment (its confirmation, still queued here) move to email.
    following = Notification.objects.get(appointment=sent_reminder.appointment, kind=Kind.CONFIRMATION)
    assert following.status == State.QUEUED and following.channel == Channel.EMAIL


@pytest.mark.parametrize(
    "sig",
    [
        None,  # missing
        "",
        "bm90IGEgc2lnbmF0dXJl",
        signature({"MessageSid": "x"}),  # another body's signature
    ],
)
def test_bad_or_missing_signature_is_403_and_changes_nothing(client, sent_reminder, sig):
    before = list(Notification.objects.order_by("pk").values())
    response = callback(client, report(sent_reminder, "failed"), sig=sig)
    assert response.status_code == 403
    assert list(Notification.objects.order_by("pk").values()) == before


def test_signature_with_another_token_or_url_is_refused(client, sent_reminder):
    params = report(sent_reminder, "delivered")
    assert callback(client, params, sig=signature(params, token="another-token")).status_code == 403
    assert callback(client, params, sig=signature(params, url="https://evil.example/x")).status_code == 403
    sent_reminder.refresh_from_db()
    assert sent_reminder.status == State.SENT


def test_tampered_body_is_refused(client, sent_reminder):
    params = report(sent_reminder, "delivered")
    sig = signature(params)
    params["MessageStatus"] = "failed"
    assert callback(client, params, sig=sig).status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"MessageStatus": "delivered"},
        {"MessageSid": "SM" + "a" * 32},
        {"MessageSid": "not-a-sid", "MessageStatus": "delivered"},
        {"MessageSid": "SM" + "a" * 32, "MessageStatus": "exploded"},
    ],
)
def test_malformed_but_signed_bodies_are_400(client, sent_reminder, params):
    assert callback(client, params).status_code == 400
    sent_reminder.refresh_from_db()
    assert sent_reminder.status == State.SENT


def test_non_form_body_is_400(client, sent_reminder):
    body = b'{"MessageSid": 1}'
    response = client.post(URL, body, content_type="application/json", headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 400


def test_unknown_sid_is_200_so_twilio_stops(client, sent_reminder):
    params = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    assert callback(client, params).status_code == 200
    sent_reminder.refresh_from_db()
    assert sent_reminder.status == State.SENT


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_not_configured_refuses_everything(client, sent_reminder, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    assert callback(client, report(sent_reminder, "delivered")).status_code == 403
