"""Fuzzing the phone's input surfaces: the Media Stream events (parser and consumer) and the
voice webhooks' parameters (signed, so that they reach the code)."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooms.models import Participant, PhoneCall
from rooms.phone import stream
from tests.notifications.voice import signature
from tests.rooms.conftest import run
from tests.rooms.phone.conftest import NUMBER, Stream

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children,
                                                                                      max_size=4), max_leaves=12)
SID = st.sampled_from(["MZ" + "a" * 32, "CA" + "b" * 32, "", "MZ", "x" * 40])
EVENT = st.fixed_dictionaries({
    "event": st.sampled_from(["connected", "start", "media", "dtmf", "mark", "stop", "clear", "other"]),
}, optional={
    "streamSid": SID,
    "sequenceNumber": st.text(max_size=5),
    "start": st.fixed_dictionaries({}, optional={
        "streamSid": SID, "callSid": SID, "customParameters": st.dictionaries(st.text(max_size=8), JSON, max_size=3),
        "mediaFormat": st.fixed_dictionaries({}, optional={"encoding": st.sampled_from(["audio/x-mulaw", "x"]),
                                                           "sampleRate": st.sampled_from([8000, 16000, "8000"]),
                                                           "channels": st.sampled_from([1, 2])})}) | JSON,
    "media": st.fixed_dictionaries({}, optional={
        "payload": st.binary(max_size=400).map(lambda b: base64.b64encode(b).decode()) | st.text(max_size=50) | JSON,
        "track": st.sampled_from(["inbound", "outbound", 3])}) | JSON,
    "dtmf": st.fixed_dictionaries({}, optional={"digit": st.text(max_size=2) | JSON}) | JSON,
    "mark": st.fixed_dictionaries({}, optional={"name": st.text(max_size=30) | JSON}) | JSON,
})


@given(st.one_of(EVENT.map(json.dumps), JSON.map(json.dumps), st.text(max_size=200)))
@settings(max_examples=400, deadline=None)
def test_the_parser_answers_an_event_or_a_stream_error(text):
    try:
        event = stream.parse(text)
    except stream.StreamError:
        return
    assert event.kind in stream.EVENTS
    if event.kind == "media":
        assert len(event.audio) <= stream.MAX_PAYLOAD
    if event.kind == "dtmf":
        assert event.digit in stream.DIGITS


@given(st.lists(st.sampled_from("0123456789*#"), max_size=20))
def test_star_six_toggles_exactly_when_typed(keys):
    keypad = stream.Keypad()
    toggles = [keypad.press(k) for k in keys]
    expected = [i > 0 and keys[i - 1] == "*" and k == "6" for i, k in enumerate(keys)]
    assert toggles == expected


FORM_VALUE = st.text(max_size=40)


@pytest.mark.django_db
@given(form=st.dictionaries(st.sampled_from(["CallSid", "From", "To", "Digits", "CallStatus", "AccountSid", "x"]),
                            FORM_VALUE, max_size=6),
       path=st.sampled_from(["/phone/voice/", "/phone/voice/code/", "/phone/status/"]),
       good_sid=st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_signed_webhooks_with_any_parameters_answer_without_error(client, voice, form, path, good_sid):
    if good_sid:
        form = {**form, "CallSid": "CA" + "c" * 32, "To": form.get("To", NUMBER)}
    url = {"/phone/voice/": voice.PHONE_VOICE_URL, "/phone/voice/code/": voice.PHONE_CODE_URL,
           "/phone/status/": voice.PHONE_STATUS_URL}[path]
    response = client.post(path, urlencode(form), content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature(url, form)})
    assert response.status_code in (200, 400)
    if response.status_code == 200 and path != "/phone/status/":
        assert response.content.startswith(b"<?xml") and b"<Response>" in response.content
    assert not Participant.objects.exists()  # only a stream with its token makes one


@pytest.mark.django_db(transaction=True)
@given(events=st.lists(EVENT.map(json.dumps) | st.text(min_size=1, max_size=60), min_size=1, max_size=12))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_events_on_a_stream_without_a_genuine_start_let_nobody_in(voice, events):
    async def scenario():
        target = Stream("CA" + "d" * 32)
        await target.open()
        for text in events:
            if target.closed_code is not None:
                break
            await target.ws.send_to(text_data=text)
            await target.pump(0.02)
        assert target.session.media_messages == 0
        await target.close()

    run(scenario())
    assert not Participant.objects.exists() and not PhoneCall.objects.filter(token_used_at__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
@given(events=st.lists(EVENT.filter(lambda e: e["event"] not in ("stop", "start")).map(json.dumps)
                       | st.text(min_size=1, max_size=60), min_size=1, max_size=10))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_events_after_a_genuine_start_keep_the_call_going(twilio, structure_a, alice, events):
    import datetime as dt

    from django.utils import timezone

    from tests import factories

    room = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=5)).room
    call = twilio.dial(NUMBER, digits=[room.password])

    async def scenario():
        target = Stream(call.sid)
        await target.open()
        await target.session.start(call.parameters)
        await target.until(lambda: target.session.media_messages > 0)
        for text in events:
            await target.ws.send_to(text_data=text)
        await target.pump(0.1)
        assert target.closed_code is None  # still in the call
        await target.close()

    run(scenario())
    assert Participant.objects.get(room=room, by_phone=True).status == "left"
