"""STOP/START: Twilio's inbound-SMS webhook (signed with the SDK's RequestValidator, as
Twilio signs), the opt-out per number and structure, and what it does to the messages."""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from notifications import delivery, optout
from notifications.models import Kind, Notification, SmsOptOut, State
from portal.models import Appointment, Channel
from tests import factories
from tests.notifications.servers import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.notifications.test_delivery import EMAIL, PHONE, row

URL = reverse("notifications:twilio_inbound")
INBOUND_URL = "https://visio.example.fr/notifications/twilio/inbound/"


@pytest.fixture(autouse=True)
def _inbound_url(settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_INBOUND_URL = INBOUND_URL


def reply(body: str, sender: str = PHONE) -> dict:
    return {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": sender, "To": FROM_NUMBER,
            "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}


def post(client, params: dict, sig: str | None = "auto", url: str = INBOUND_URL):
    headers = {}
    if sig == "auto":
        sig = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    if sig is not None:
        headers["X-Twilio-Signature"] = sig
    return client.post(URL, urlencode(params), content_type="application/x-www-form-urlencoded", headers=headers)


def stopped(structure) -> bool:
    return SmsOptOut.objects.filter(phone=PHONE, structure=structure, opted_out=True).exists()


def test_stop_then_the_reminder_goes_by_email_and_start_brings_sms_back(client, providers, book, structure_a):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    response = post(client, reply("STOP"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert b"<Response></Response>" in response.content  # Twilio itself confirms the STOP
    assert stopped(structure_a)
    reminder = row(appointment)
    report = delivery.deliver([reminder.pk], now=reminder.due_at)
    reminder.refresh_from_db()
    assert reminder.status == State.FAILED and reminder.problem == "unsubscribed" and "STOP" in reminder.explanation()
    for pk, due in report.dispatch.items:
        delivery.deliver([pk], now=due)
    assert [m for m in smtp.to(EMAIL) if "commence" in m.message["Subject"]]
    assert not [m for m in twilio.sent_to(PHONE) if "Code" in m.body]  # no SMS after STOP
    # START: the next link goes by SMS again.
    assert post(client, reply("Start")).status_code == 200
    assert not stopped(structure_a)
    link = delivery.resend_link(appointment, by=appointment.agent)
    assert link.channel == Channel.SMS
    assert delivery.deliver([link.pk]).sent == [link.pk]
    assert len([m for m in twilio.sent_to(PHONE) if "Code" in m.body]) == 1


def test_after_stop_new_messages_are_planned_by_email(client, providers, book, structure_a):
    twilio, _smtp = providers
    book(preferred_channel=Channel.SMS)  # the number is known to the structure
    post(client, reply("Arrêt"))
    appointment = book(preferred_channel=Channel.SMS, start=timezone.now() + dt.timedelta(hours=5))
    assert row(appointment, Kind.CONFIRMATION).channel == Channel.EMAIL
    assert row(appointment).channel == Channel.EMAIL
    assert len(twilio.sent_to(PHONE)) == 1  # the first booking's confirmation only


def test_after_stop_without_an_email_nothing_goes_by_sms(client, providers, book):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS, citizen_email="")
    post(client, reply("stop"))
    reminder = row(appointment)
    delivery.deliver([reminder.pk], now=reminder.due_at)
    reminder.refresh_from_db()
    assert reminder.status == State.FAILED and reminder.problem == "unsubscribed"
    assert not Notification.objects.filter(fallback_of=reminder).exists()
    assert not [m for m in twilio.sent_to(PHONE) if "Code" in m.body]


def test_stop_is_per_structure(client, providers, structure_a, structure_b, alice, bob):
    factories.appointment(structure_a, alice, preferred_channel=Channel.SMS)
    post(client, reply("STOP"))
    assert stopped(structure_a) and not stopped(structure_b)
    other = factories.appointment(structure_b, bob, preferred_channel=Channel.SMS)  # same number, booked later
    assert row(other, Kind.CONFIRMATION).channel == Channel.SMS


@pytest.mark.parametrize("body", ["STOP", " stop ", "Arrêt.", "ARRET", "STOPALL", "unsubscribe", "Stop!"])
def test_stop_words(body):
    assert optout.keyword(body) == "stop"


@pytest.mark.parametrize("body", ["Stop the call please", "merci", "", "STOP STOP", "ok"])
def test_other_replies_change_nothing(client, providers, book, structure_a, body):
    book(preferred_channel=Channel.SMS)
    assert post(client, reply(body)).status_code == 200
    assert not SmsOptOut.objects.exists()


@pytest.mark.parametrize(
    "sig",
    [None, "", "bm90IGEgc2lnbmF0dXJl", RequestValidator("another-token").compute_signature(INBOUND_URL, {})],
)
def test_bad_or_missing_signature_is_403_and_records_nothing(client, providers, book, sig):
    book(preferred_channel=Channel.SMS)
    assert post(client, reply("STOP"), sig=sig).status_code == 403
    assert not SmsOptOut.objects.exists()


def test_a_signature_for_another_url_or_body_is_403(client, providers, book):
    book(preferred_channel=Channel.SMS)
    params = reply("STOP")
    status_url = "https://visio.example.fr/notifications/twilio/status/"
    assert post(client, params, url=status_url).status_code == 403  # replayed from the status webhook
    signed = RequestValidator(AUTH_TOKEN).compute_signature(INBOUND_URL, reply("hello"))
    assert post(client, params, sig=signed).status_code == 403
    assert not SmsOptOut.objects.exists()


@pytest.mark.parametrize(
    "params",
    [{}, {"Body": "STOP"}, {"MessageSid": "SM" + "a" * 32, "Body": "STOP", "From": "0612345678"},
     {"MessageSid": "x", "Body": "STOP", "From": PHONE}],
)
def test_malformed_but_signed_bodies_are_400(client, db, params):
    assert post(client, params).status_code == 400
    assert not SmsOptOut.objects.exists()


def test_get_and_json_are_refused(client):
    assert client.get(URL).status_code == 405
    assert client.post(URL, b"{}", content_type="application/json").status_code == 400


fields = st.dictionaries(
    st.sampled_from(["MessageSid", "From", "To", "Body", "AccountSid", "SmsStatus", "X"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
    | st.sampled_from(["STOP", "START", "Arrêt", PHONE, "SM" + "c" * 32]),
    max_size=6,
)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=fields, signed=st.booleans())
def test_fuzzed_bodies_never_fail_and_only_signed_keywords_count(client, structure_a, alice, params, signed):
    if not Appointment.objects.exists():
        factories.appointment(structure_a, alice, preferred_channel=Channel.SMS)  # PHONE is known
    SmsOptOut.objects.all().delete()
    response = post(client, params, sig="auto" if signed else "bm90IGEgc2lnbmF0dXJl")
    if not signed:  # 400 for an empty body, sent without a form content type
        assert response.status_code == 403 or (response.status_code == 400 and not params)
    else:
        assert response.status_code in (200, 400)
    recorded = SmsOptOut.objects.exists()
    if recorded:
        assert signed and response.status_code == 200 and optout.keyword(params.get("Body", "")) is not None


def manage_path(appointment) -> str:
    from django.conf import settings

    from portal import citizen

    return citizen.manage_url(appointment).removeprefix(settings.SITE_URL)


def test_the_citizen_chooses_the_channel_of_the_remaining_messages_on_their_page(client, providers, book):
    twilio, smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    page = client.get(manage_path(appointment)).content.decode()
    assert 'id="gv-channel"' in page and "Recevoir les prochains messages par" in page
    response = client.post(manage_path(appointment), {"action": "channel", "channel": "email"})
    assert "les prochains messages utiliseront ce canal" in response.content.decode()
    appointment.refresh_from_db()
    reminder = row(appointment)
    assert appointment.preferred_channel == Channel.EMAIL and reminder.channel == Channel.EMAIL
    assert delivery.deliver([reminder.pk], now=reminder.due_at).sent == [reminder.pk]
    assert [m for m in smtp.to(EMAIL) if "commence" in m.message["Subject"]]
    assert not [m for m in twilio.sent_to(PHONE) if "Code" in m.body]


def test_choosing_sms_on_the_page_lifts_an_earlier_stop(client, providers, book, structure_a):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    post(client, reply("STOP"))
    assert row(appointment).channel == Channel.SMS  # planned before the STOP; the send checks it
    client.post(manage_path(appointment), {"action": "channel", "channel": "email"})
    assert row(appointment).channel == Channel.EMAIL and stopped(structure_a)
    client.post(manage_path(appointment), {"action": "channel", "channel": "sms"})
    assert not stopped(structure_a)
    reminder = row(appointment)
    assert reminder.channel == Channel.SMS
    assert delivery.deliver([reminder.pk], now=reminder.due_at).sent == [reminder.pk]


@pytest.mark.parametrize("value", ["fax", "", "sms' OR 1=1"])
def test_a_bad_choice_changes_nothing(client, providers, book, value):
    appointment = book(preferred_channel=Channel.SMS)
    response = client.post(manage_path(appointment), {"action": "channel", "channel": value})
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.preferred_channel == Channel.SMS and row(appointment).channel == Channel.SMS


def test_no_choice_without_both_addresses(client, providers, book):
    appointment = book(preferred_channel=Channel.SMS, citizen_email="")
    assert 'id="gv-channel"' not in client.get(manage_path(appointment)).content.decode()
    client.post(manage_path(appointment), {"action": "channel", "channel": "email"})
    appointment.refresh_from_db()
    assert appointment.preferred_channel == Channel.SMS
