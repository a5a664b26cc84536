"""Media through the signalling consumer: offer/answer, server offers with the tracks map."""

import asyncio

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from tests.rooms.conftest import Client, run
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
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        await agent.expect("participant.joined")
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
            await agent_pc.close()
            await guest_pc.close()
            await agent.close()
            await guest.close()
            from rooms.mediabridge import media

            await media().shutdown()

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
            await pc.close()
            await agent.close()
            from rooms.mediabridge import media

            await media().shutdown()

    answer = run(scenario())
    ports = {int(p) for p in re.findall(r"a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host", answer)}
    assert ports and all(41000 <= p <= 41099 for p in ports)
