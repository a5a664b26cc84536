"""A waiting guest learns only their place and the agent's message; nothing they send
reaches the people in the call."""

import aioice.ice
import pytest
from aiortc import RTCPeerConnection

from rooms.protocol import LOBBY_ALLOWED
from tests.rooms.conftest import Client, hang_up, run, seated

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"])


def test_the_waiting_guest_state_names_nobody_in_the_call(room, moderator, citizen, in_call):
    async def scenario():
        agent, paul = await seated(room.slug, moderator.pid, in_call.pid)
        guest = await Client(room.slug, citizen.pid).connect()
        state = await guest.greeted()
        assert state["you"]["name"] == "Jeanne Dupont" and state["you"]["status"] == "waiting"
        assert state["participants"] == [] and state["lobby"] == []
        assert "Alice" not in str(state) and "Paul" not in str(state)
        # Reconnecting while still waiting tells no more.
        await guest.close()
        guest = await Client(room.slug, citizen.pid).connect()
        assert (await guest.greeted())["participants"] == []
        # Once admitted, the state lists the call.
        await agent.expect("lobby.waiting", ignore=("participant.updated",))  # its earlier disconnect/reconnect
        await agent.send({"type": "lobby.admit", "pid": str(citizen.pid)})
        await guest.expect("lobby.admitted")
        state = await guest.expect("state")
        assert {p["name"] for p in state["participants"]} == {"Alice Agent", "Paul Durand", "Jeanne Dupont"}
        for client in (agent, paul, guest):
            await client.close()

    run(scenario())


MESSAGES = {
    "ping": {"type": "ping"},
    "name.set": {"type": "name.set", "name": "Jeanne D."},
    "lobby.info": {"type": "lobby.info"},
    "quality.set": {"type": "quality.set", "audio_only": True},
    # The waiting room's connection (its offer is made in the scenario): only its answer comes back.
    "rtc.prepare": {"type": "rtc.prepare"},
    "leave": {"type": "leave"},  # last: it ends the guest's connection
}


def test_every_message_a_waiting_guest_may_send_stays_out_of_the_call(room, moderator, citizen, in_call):
    assert set(MESSAGES) == LOBBY_ALLOWED  # a new lobby message type must be added here

    async def scenario():
        paul = await Client(room.slug, in_call.pid).connect()
        await paul.greeted()
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        pc = RTCPeerConnection()
        for kind in ("audio", "video"):
            pc.addTransceiver(kind, direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        for kind, message in MESSAGES.items():
            if kind == "rtc.prepare":
                message = {**message, "sdp": pc.localDescription.sdp}
            await guest.send(message)
            if kind == "rtc.prepare":
                assert (await guest.expect("rtc.answer", timeout=10))["tracks"] == {}
            elif kind == "leave":
                assert await guest.closed_with() in (None, 1000)  # a normal close, no code given
            else:
                # Its own answer only (pong, lobby.info) or nothing; never an error.
                await guest.quiet() if kind in ("name.set", "quality.set") else await guest.recv()
            await paul.quiet()  # nothing reached the call before this sync point
        await hang_up(paul, pc)

    run(scenario())
    citizen.refresh_from_db()
    assert citizen.audio_only is True and citizen.name == "Jeanne D."  # kept for when they are let in
