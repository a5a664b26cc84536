"""Media through the signalling consumer: offer/answer, server offers with the tracks map."""

import asyncio

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from tests.rooms.conftest import Client, hang_up, run, seated
from tests.waiting import wait_until_async

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"])


async def browser_like_peer():
    """An aiortc peer that behaves like the room page: sendrecv audio + video, one offer."""
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    received: list[str] = []
    pc.on("track", lambda track: received.append(track.kind))
    await pc.setLocalDescription(await pc.createOffer())
    return pc, received


async def answer_server_offers(client: Client, pc: RTCPeerConnection, count: int) -> dict:
    tracks = {}
    for _ in range(count):
        offer = await client.expect("rtc.offer", timeout=10)
        tracks = offer["tracks"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await client.send({"type": "rtc.answer", "sdp": pc.localDescription.sdp})
    return tracks


def test_two_participants_get_each_others_tracks(room, moderator, citizen):
    citizen.status = "admitted"
    citizen.save()

    async def scenario():
        agent, guest = await seated(room.slug, moderator.pid, citizen.pid)
        agent_pc, agent_got = await browser_like_peer()
        guest_pc, guest_got = await browser_like_peer()
        try:
            await agent.send({"type": "rtc.offer", "sdp": agent_pc.localDescription.sdp})
            answer = await agent.expect("rtc.answer", timeout=10)
            await agent_pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
            await guest.send({"type": "rtc.offer", "sdp": guest_pc.localDescription.sdp})
            answer = await guest.expect("rtc.answer", timeout=10)
            await guest_pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
            # Each is offered the other's audio and video, labelled with the publisher's pid.
            guest_tracks, agent_tracks = await asyncio.gather(
                answer_server_offers(guest, guest_pc, 1), answer_server_offers(agent, agent_pc, 1)
            )
            assert {(t["participant_id"], t["kind"]) for t in guest_tracks.values()} == {
                (str(moderator.pid), "audio"), (str(moderator.pid), "video")}
            assert {(t["participant_id"], t["kind"]) for t in agent_tracks.values()} == {
                (str(citizen.pid), "audio"), (str(citizen.pid), "video")}
            await wait_until_async(
                lambda: sorted(agent_got) == sorted(guest_got) == ["audio", "video"], 10,
                what="each to receive the other's audio and video tracks")
        finally:
            await hang_up(agent_pc, guest_pc, agent, guest)

    run(scenario())


def test_engine_binds_inside_the_configured_udp_range(room, moderator, settings):
    import re

    settings.MEDIA_UDP_PORTS = "41000-41099"

    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        pc, _ = await browser_like_peer()
        try:
            await agent.send({"type": "rtc.offer", "sdp": pc.localDescription.sdp})
            return (await agent.expect("rtc.answer", timeout=10))["sdp"]
        finally:
            await hang_up(pc, agent)

    answer = run(scenario())
    ports = {int(p) for p in re.findall(r"a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host", answer)}
    assert ports and all(41000 <= p <= 41099 for p in ports)


async def slotted_peer():
    """An aiortc peer that offers as the room page does (media.js): its audio and video
    (sendrecv), then two receive-only slot pairs. It sends from the start: aiortc's sender
    cannot begin later as a browser's does at admission (`replaceTrack`); the engine drops
    what a waiting one sends (tests/media/engine/test_prepared.py)."""
    from aiortc import RTCBundlePolicy, RTCConfiguration

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pc.addTransceiver(AudioStreamTrack(), direction="sendrecv")
    pc.addTransceiver(VideoStreamTrack(), direction="sendrecv")
    for _ in range(2):
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
    frames: dict[str, int] = {}

    def on_track(track):
        mid = next(t.mid for t in pc.getTransceivers() if t.receiver.track is track)

        async def read():
            while True:
                try:
                    await track.recv()
                except Exception:
                    return
                frames[mid] = frames.get(mid, 0) + 1

        asyncio.ensure_future(read())

    pc.on("track", on_track)
    await pc.setLocalDescription(await pc.createOffer())
    return pc, frames


def test_a_prepared_guest_is_admitted_with_the_call_on_its_connection(room, moderator, citizen):
    """rtc.prepare from the waiting room, then lobby.admitted carries the tracks map: the
    guest receives the agent's audio and video with no offer round (rooms/PROTOCOL.md, Media)."""

    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        agent_pc, agent_frames = await slotted_peer()
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        guest_pc, guest_frames = await slotted_peer()
        try:
            await agent.send({"type": "rtc.offer", "sdp": agent_pc.localDescription.sdp, "n": 7})
            answer = await agent.expect("rtc.answer", timeout=10, ignore=("lobby.waiting",))
            assert answer["tracks"] == {}  # alone in the call
            assert answer["n"] == 7  # the offer's number, echoed (a page drops answers to replaced offers)
            await agent_pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

            await guest.send({"type": "rtc.prepare", "sdp": guest_pc.localDescription.sdp, "n": 1})
            answer = await guest.expect("rtc.answer", timeout=10)
            assert answer["tracks"] == {}  # nothing of the call while waiting
            assert answer["n"] == 1
            await guest_pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
            await wait_until_async(lambda: guest_pc.connectionState == "connected", 10,
                                   what="the waiting guest's connection")

            await agent.send({"type": "lobby.admit", "pid": str(citizen.pid)})
            admitted = await guest.expect("lobby.admitted", timeout=10)
            assert {(t["participant_id"], t["kind"]) for t in admitted["tracks"].values()} == {
                (str(moderator.pid), "audio"), (str(moderator.pid), "video")}
            await wait_until_async(lambda: all(guest_frames.get(mid, 0) > 3 for mid in admitted["tracks"]), 15,
                                   what="the guest to receive the agent's audio and video")
            # The agent learns of the guest's tracks through its server offer, as before.
            offer = await agent.expect("rtc.offer", timeout=10,  # the admission's news comes with it
                                       ignore=("participant.joined", "lobby.left", "participant.updated"))
            tracks = offer["tracks"]
            await agent_pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
            await agent_pc.setLocalDescription(await agent_pc.createAnswer())
            await agent.send({"type": "rtc.answer", "sdp": agent_pc.localDescription.sdp})
            assert {(t["participant_id"], t["kind"]) for t in tracks.values()} == {
                (str(citizen.pid), "audio"), (str(citizen.pid), "video")}
            await wait_until_async(lambda: all(agent_frames.get(mid, 0) > 3 for mid in tracks), 15,
                                   what="the agent to receive the guest's audio and video")
            await guest.expect("state")
            await guest.quiet()  # no rtc.offer came to the guest
        finally:
            await hang_up(agent_pc, guest_pc, agent, guest)

    run(scenario())


def test_only_a_waiting_guest_prepares_a_connection(room, moderator, citizen):
    citizen.status = "admitted"
    citizen.save()

    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        try:
            for client in (agent, guest):
                await client.send({"type": "rtc.prepare", "sdp": "v=0"})
                error = await client.expect("error", ignore=("participant.joined",))
                assert (error["code"], error["ref"]) == ("forbidden", "rtc.prepare")
        finally:
            await agent.close()
            await guest.close()

    run(scenario())
