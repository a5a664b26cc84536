"""Dial-out: the agent's `phone.call` → Twilio's Calls API (a local FakeTwilio) with TwiML
streaming into the room; the citizen who answers is in the call at once; Twilio's status
callbacks reach the agent."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async

from rooms.models import Participant, PhoneCall
from tests.notifications.servers import ACCOUNT_SID, FakeTwilio
from tests.notifications.voice import signature
from tests.rooms.conftest import Client, run
from tests.rooms.phone.conftest import Stream

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(voice, structure_a):
    fake = FakeTwilio().start()
    voice.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    voice.TWILIO_API_BASE_URL = fake.url
    structure_a.voice_dial_out = True
    structure_a.save()
    yield fake
    fake.stop()


def test_the_agent_calls_the_citizen_who_answers_and_is_in_the_call(api, room, moderator, client, voice):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        await agent.send({"type": "phone.call"})
        status = await agent.expect("phone.status")
        assert status == {"type": "phone.status", "status": "queued", "number": "··78"}
        await agent.close()

    run(scenario())
    assert len(api.calls) == 1
    placed_call = api.calls[0]
    assert placed_call.to == "+33612345678" and placed_call.sender == "+33180000000"
    assert placed_call.status_callback == voice.PHONE_STATUS_URL and 0 < int(placed_call.time_limit) <= 3600 * 2
    twiml = ET.fromstring(placed_call.twiml)  # noqa: S314  (ours)
    stream = twiml.find("Connect/Stream")
    assert stream is not None and stream.get("url") == voice.PHONE_STREAM_URL
    token = stream.find("Parameter").get("value")

    # Twilio reports the ringing (signed), then the answered call opens the stream.
    form = {"CallSid": placed_call.sid, "CallStatus": "ringing"}
    response = client.post("/phone/status/", urlencode(form), content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature(voice.PHONE_STATUS_URL, form)})
    assert response.status_code == 200

    async def answered():
        agent2 = await Client(room.slug, moderator.pid).connect()
        await agent2.greeted()
        phone = await Stream(placed_call.sid).open()
        await phone.session.start({"token": token})
        news = await agent2.expect_each("lobby.waiting", "participant.joined", "lobby.left")
        assert news["participant.joined"]["participant"]["name"] == "Téléphone ··78"
        await phone.until(lambda: phone.session.clears >= 1)  # admitted: no chime
        await phone.session.stop()
        await phone.closed()
        await phone.close()
        await agent2.close()

    run(answered())
    assert PhoneCall.objects.get(call_sid=placed_call.sid).status == "ringing"
    assert Participant.objects.get(by_phone=True).admitted_at is not None


def test_dial_out_refused_when_the_structure_does_not_allow_it(api, room, moderator, structure_a):
    structure_a.voice_dial_out = False
    structure_a.save()

    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        await agent.send({"type": "phone.call", "number": "06 11 22 33 44"})
        error = await agent.expect("error")
        assert error["code"] == "dial_out" and "not enabled" in error["message"]
        await agent.close()

    run(scenario())
    assert not api.calls and not PhoneCall.objects.exists()


def test_a_typed_number_is_checked_and_only_moderators_may_call(api, room, moderator, citizen):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        await agent.send({"type": "phone.call", "number": "not a number"})
        assert (await agent.expect("error"))["code"] == "dial_out"
        await agent.send({"type": "phone.call", "number": "06 11 22 33 44"})
        assert (await agent.expect("phone.status"))["number"] == "··44"
        await agent.close()

    run(scenario())
    assert [c.to for c in api.calls] == ["+33611223344"]


def test_a_busy_line_is_shown_to_the_agent(api, room, moderator, client, voice):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        await agent.send({"type": "phone.call"})
        await agent.expect("phone.status")
        sid = (await database_sync_to_async(PhoneCall.objects.get)()).call_sid
        form = {"CallSid": sid, "CallStatus": "busy"}
        await database_sync_to_async(client.post)(
            "/phone/status/", urlencode(form), content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": signature(voice.PHONE_STATUS_URL, form)})
        assert (await agent.expect("phone.status"))["status"] == "busy"
        await agent.close()

    run(scenario())
