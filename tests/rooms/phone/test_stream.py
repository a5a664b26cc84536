"""The Media Stream WebSocket, as Twilio opens it, on the real ASGI application: the token
gate, the phone in the lobby and the call, the keypad, hanging up, malformed frames."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from rooms.models import Participant, PhoneCall
from rooms.phone.stream import outgoing_media
from tests.notifications.voice import call_sid, tone_frames
from tests.rooms.conftest import Client, run
from tests.rooms.phone.conftest import NUMBER, Stream

pytestmark = pytest.mark.django_db(transaction=True)
REFUSED = 4403


@pytest.fixture
def dialed(twilio, room):
    """A call that typed the right code: its TwiML carries the stream's token."""
    call = twilio.dial(NUMBER, caller="+33612345678", digits=[room.password])
    assert call.parameters["token"]
    return call


def participants() -> list[Participant]:
    return list(Participant.objects.filter(by_phone=True))


@database_sync_to_async
def phone_participant() -> Participant:
    return Participant.objects.get(by_phone=True)


async def started(call) -> Stream:
    stream = await Stream(call.sid).open()
    await stream.session.start(call.parameters)
    return stream


def test_the_phone_waits_in_the_lobby_hears_the_chime_is_admitted_and_hangs_up(dialed, room, moderator, caplog):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        stream = await started(dialed)
        waiting = (await agent.expect("lobby.waiting"))["participant"]
        assert waiting["name"] == "Téléphone ··78" and waiting["phone"] is True and waiting["video"] is False
        await stream.until(lambda: stream.session.media_messages >= 10)  # the chime, in 20 ms frames
        assert len(stream.session.received) == 160 * stream.session.media_messages
        await agent.send({"type": "lobby.admit", "pid": waiting["pid"]})
        await agent.expect_each("participant.joined", "lobby.left")
        await stream.until(lambda: stream.session.clears >= 1)  # the chime stops at once
        assert (await phone_participant()).status == "admitted"
        for frame in tone_frames(440, 0.2):
            await stream.session.media(frame)
        # *6: muted, the call sees it; again: back.
        await stream.session.dtmf("*")
        await stream.session.dtmf("6")
        updated = await agent.expect("participant.updated")
        assert updated["participant"]["audio"] is False
        await stream.session.dtmf("*")
        await stream.session.dtmf("6")
        assert (await agent.expect("participant.updated"))["participant"]["audio"] is True
        await stream.session.stop()
        assert await stream.closed() == 1000
        # Out of the call (the room's group and the moderators' group both say so).
        left = await agent.expect("participant.left")
        assert left["participant"]["pid"] == waiting["pid"]
        await agent.expect("participant.left")
        await stream.close()
        assert (await phone_participant()).status == "left"
        await agent.close()

    run(scenario())
    assert "could not record" not in caplog.text  # the day view was told too


def test_the_agent_refuses_the_phone_and_the_stream_ends(dialed, room, moderator):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        stream = await started(dialed)
        pid = (await agent.expect("lobby.waiting"))["participant"]["pid"]
        await agent.send({"type": "lobby.refuse", "pid": pid})
        assert await stream.closed() == 1000  # the TwiML after <Connect> says goodbye and hangs up
        assert (await phone_participant()).status == "refused"
        await agent.close()

    run(scenario())


def test_the_agent_mutes_sends_back_and_removes_the_phone(dialed, room, moderator):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        stream = await started(dialed)
        pid = (await agent.expect("lobby.waiting"))["participant"]["pid"]
        await agent.send({"type": "lobby.admit", "pid": pid})
        await agent.expect_each("participant.joined", "lobby.left")
        await stream.until(lambda: stream.session.clears >= 1)
        await agent.send({"type": "mod.mute", "pid": pid})
        assert (await agent.expect("participant.updated"))["participant"]["audio"] is False
        await agent.send({"type": "lobby.return", "pid": pid})
        await agent.expect_each("participant.left", "lobby.waiting")
        before = stream.session.media_messages
        await stream.until(lambda: stream.session.media_messages > before + 5)  # the chime again
        await agent.send({"type": "lobby.admit", "pid": pid})
        await agent.expect_each("participant.joined", "lobby.left")
        await agent.send({"type": "mod.remove", "pid": pid})
        assert await stream.closed() == 1000
        assert (await phone_participant()).status == "removed"
        await agent.close()

    run(scenario())


def test_malformed_frames_do_not_end_the_call(dialed, room, moderator):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        stream = await started(dialed)
        await agent.expect("lobby.waiting")
        for bad in (" ", "not json", "[]", '{"event": "media"}', '{"event": "media", "media": {"payload": "%%%"}}',
                    '{"event": "dtmf", "dtmf": {"digit": "A"}}', '{"event": "nope"}', "{" * 70000):
            await stream.ws.send_to(text_data=bad)
        await stream.ws.send_to(bytes_data=b"\x00\x01")
        await stream.session.media(b"\xff" * 7)  # odd lengths are audio too
        await stream.session.dtmf("*")
        await stream.session.dtmf("6")
        assert (await agent.expect("participant.updated"))["participant"]["audio"] is False  # still listening
        assert stream.closed_code is None
        await stream.close()
        assert (await agent.expect("lobby.left"))["participant"]["status"] == "left"  # hung up without a stop
        await agent.close()

    run(scenario())


@pytest.mark.parametrize("case", ["none", "wrong", "other_call", "used", "expired", "media_first"])
def test_a_stream_without_a_valid_token_is_refused_and_nobody_enters(case, dialed, twilio, room):
    async def scenario():
        stream = await Stream(dialed.sid).open()
        if case == "none":
            await stream.session.start({})
        elif case == "wrong":
            await stream.session.start({"token": "x" * 43})
        elif case == "other_call":
            await stream.session.start(dialed.parameters, call_sid=call_sid())
        elif case == "used":
            first = await started(dialed)
            await first.pump()
            await stream.session.start(dialed.parameters)
        elif case == "expired":
            await database_sync_to_async(PhoneCall.objects.filter(call_sid=dialed.sid).update)(
                token_expires_at=timezone.now() - dt.timedelta(seconds=1))
            await stream.session.start(dialed.parameters)
        else:
            await stream.session.media(tone_frames(440, 0.02)[0])
        assert await stream.closed() == REFUSED
        assert stream.session.media_messages == 0  # nothing heard
        count = await database_sync_to_async(Participant.objects.filter(by_phone=True).count)()
        assert count == (1 if case == "used" else 0)  # only the first, genuine stream
        if case == "used":
            await first.close()
        await stream.close()

    run(scenario())


def test_a_stream_that_never_starts_is_closed(dialed, room, settings):
    settings.PHONE_START_SECONDS = 0.3

    async def scenario():
        stream = await Stream(dialed.sid).open()
        assert await stream.closed() == REFUSED

    run(scenario())


def test_the_call_is_cut_after_the_appointments_end_and_margin(dialed, room, settings):
    settings.PHONE_CALL_MARGIN_MINUTES = 0
    appointment = room.appointment
    appointment.duration_minutes = 5
    # Ended a second ago (the room stays open 30 min after): the call is cut once in, not
    # at a moment a loaded machine could miss.
    appointment.start = timezone.now() - dt.timedelta(seconds=1) - dt.timedelta(minutes=5)
    appointment.save()

    async def scenario():
        stream = await started(dialed)
        assert await stream.closed(timeout=20) == 1000
        assert (await phone_participant()).status == "left"

    run(scenario())


def test_outgoing_frames_follow_twilios_framing():
    import json

    message = json.loads(outgoing_media("MZ" + "0" * 32, b"\xff" * 160))
    assert message["event"] == "media" and set(message) == {"event", "streamSid", "media"}
    assert asyncio.iscoroutinefunction(Stream.open)


def test_audio_queued_too_long_at_twilio_is_cleared(dialed, room):
    """Marks come back once played; when more than 2 s are still unplayed, the stream sends
    `clear` (what Twilio buffered only adds delay)."""
    async def scenario():
        stream = await started(dialed)
        await stream.until(lambda: len(stream.session.marks) >= 1)  # Twilio plays and echoes
        stream.session.echo_marks = False  # then falls behind
        await stream.until(lambda: stream.session.clears >= 1, timeout=15)
        assert len(stream.session.marks) >= 5
        await stream.close()

    run(scenario())


def test_feeding_any_bytes_keeps_the_leg_going():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from media.phone.bridge import PhoneLeg

    @given(st.lists(st.binary(max_size=500), max_size=20))
    @settings(max_examples=60, deadline=None)
    def feed(chunks):
        async def scenario():
            async def discard(_: bytes) -> None:
                return None

            leg = PhoneLeg("phone", send=discard)
            leg.attached = True
            track = leg.publication.fanout.subscribe(max_queue=10**4)
            for chunk in chunks:
                leg.feed(chunk)
            assert len(track._queue) == sum(len(c) for c in chunks) // 160
            await leg.close()

        asyncio.run(scenario())

    feed()


def test_the_agent_renames_the_phone_and_nobody_else(dialed, room, moderator, citizen):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        stream = await started(dialed)
        pid = (await agent.expect("lobby.waiting"))["participant"]["pid"]
        await agent.send({"type": "mod.rename", "pid": pid, "name": "Mme Dupont"})
        assert (await agent.expect("participant.updated"))["participant"]["name"] == "Mme Dupont"
        await agent.send({"type": "mod.rename", "pid": pid, "name": "Agent Smith"})
        assert (await agent.expect("error"))["code"] == "reserved_name"
        await agent.send({"type": "mod.rename", "pid": str(citizen.pid), "name": "Autre"})
        assert (await agent.expect("error"))["code"] == "unknown_participant"
        await stream.close()
        await agent.close()

    run(scenario())
    assert Participant.objects.get(by_phone=True).name == "Mme Dupont"
