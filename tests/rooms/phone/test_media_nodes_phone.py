"""The telephone with media on separate nodes (MEDIA_NODES=remote): the Media Stream reaches
this process, the phone's leg runs on the node hosting the room (rooms/phone/relay.py,
media/nodes/node.py). Audio both ways is measured like the other phone tests (dominant
frequency of what each side hears); a node that is down or dies gives a clear end."""

from __future__ import annotations

import asyncio
import fractions
import signal

import numpy as np
import pytest
from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame
from channels.db import database_sync_to_async

from media.nodes.registry import NodeRegistry
from rooms.mediabridge import media
from rooms.models import Participant, PhoneCall
from tests.notifications.voice import dominant_frequency, energy, tone_frames
from tests.rooms.conftest import Client, run
from tests.rooms.phone.conftest import NUMBER, Stream
from tests.rooms.test_media_nodes import REDIS_URL, media_nodes, remote_media, wait_for_nodes  # noqa: F401
from tests.rooms.test_media_signalling import answer_server_offers
from tests.waiting import wait_until_async

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]
AGENT_HZ = 400.0
PHONE_HZ = 440.0


class ToneTrack(AudioStreamTrack):
    """The agent's microphone: a 400 Hz tone (aiortc's own track is silence)."""

    def __init__(self) -> None:
        super().__init__()
        self.at = 0

    async def recv(self) -> AudioFrame:
        frame = await super().recv()  # paced in real time, 20 ms of 8 kHz
        n = frame.samples
        t = (np.arange(n) + self.at) / frame.sample_rate
        self.at += n
        samples = (np.sin(2 * np.pi * AGENT_HZ * t) * 8000).astype(np.int16).reshape(1, -1)
        out = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        out.sample_rate, out.pts, out.time_base = frame.sample_rate, frame.pts, fractions.Fraction(1, frame.sample_rate)
        return out


class Agent:
    """The agent's page: a peer connection sending the tone and keeping what it hears."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.pc = RTCPeerConnection()
        self.pc.addTrack(ToneTrack())
        self.heard: list[np.ndarray] = []  # 48 kHz mono, every remote audio track
        self.readers: list[asyncio.Task] = []
        self.pc.on("track", self._track)

    def _track(self, track) -> None:
        if track.kind == "audio":
            self.readers.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            self.heard.append(frame.to_ndarray().reshape(-1, frame.layout.nb_channels)[:, 0].astype(np.float64))

    async def join(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.client.send({"type": "rtc.offer", "sdp": self.pc.localDescription.sdp})
        answer = await self.client.expect("rtc.answer", timeout=30)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

    def audio(self, seconds: float) -> np.ndarray:
        samples = np.concatenate(self.heard) if self.heard else np.zeros(0)
        return samples[-int(seconds * 48000):]

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await self.pc.close()
        await self.client.close()


async def talk(stream: Stream, seconds: float) -> None:
    """The phone says 440 Hz in real time (Twilio's 20 ms frames) and takes what it hears."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    for frame in tone_frames(PHONE_HZ, seconds):
        await stream.session.media(frame)
        due += 0.02
        await stream.pump(max(0.001, due - loop.time()))


async def phone_admitted(agent: Agent, call) -> tuple[Stream, str]:
    """The phone calls in and waits; `agent` admits it; back once its leg runs on a node."""
    stream = await Stream(call.sid).open()
    await stream.session.start(call.parameters)
    pid = (await agent.client.expect("lobby.waiting"))["participant"]["pid"]
    await agent.client.send({"type": "lobby.admit", "pid": pid})
    await agent.client.expect_each("participant.joined", "lobby.left")
    await wait_until_async(lambda: pid in media()._relays, 20,  # type: ignore[union-attr]
                           what="the phone's leg to start on the room's node")
    return stream, pid


@database_sync_to_async
def phone_status() -> str:
    return Participant.objects.get(by_phone=True).status


def dial_when_live(twilio, room, prefix: str, *node_ids: str):
    """Once the nodes announce themselves, the call comes in and its code is typed (Twilio's
    webhooks are synchronous views: outside the test's event loop)."""
    async def live() -> None:
        registry = NodeRegistry(REDIS_URL, prefix=prefix, max_age=2.0)
        try:
            await wait_for_nodes(registry, *node_ids)
        finally:
            await registry.close()

    run(live())
    call = twilio.dial(NUMBER, caller="+33612345678", digits=[room.password])
    assert call.parameters.get("token"), call.said
    return call


def test_a_phone_call_into_a_room_on_a_media_node_hears_and_is_heard(twilio, room, moderator,
                                                                    remote_media):  # noqa: F811
    prefix = remote_media["MEDIA_REDIS_PREFIX"]

    async def scenario(call):
        registry = NodeRegistry(REDIS_URL, prefix=prefix, max_age=2.0)
        try:
            agent = Agent(await Client(room.slug, moderator.pid).connect())
            await agent.client.greeted()
            await agent.join()
            host = await registry.assigned(room.slug)
            assert host in ("node-a", "node-b")
            stream, pid = await phone_admitted(agent, call)
            relay = media()._relays[pid]  # type: ignore[union-attr]
            assert relay.node == host  # the phone's leg is on the room's node, not the other
            await answer_server_offers(agent.client, agent.pc, 1)  # the phone's voice offered to the agent
            await talk(stream, 4.0)
            # The agent hears the phone: energy, 440 Hz.
            heard = agent.audio(1.0)
            assert len(heard) == 48000 and energy(heard) > 100, "the agent heard nothing of the phone"
            assert abs(dominant_frequency(heard, 48000) - PHONE_HZ) <= 20
            # The phone hears the agent: 400 Hz in its μ-law, sent by the node through us.
            phone = stream.session.audio(1.0)
            assert energy(phone) > 100, "the phone heard nothing of the agent"
            assert abs(dominant_frequency(phone) - AGENT_HZ) <= 20
            # Hanging up ends the leg on the node: no audio keeps coming.
            await stream.session.stop()
            assert await stream.closed() == 1000
            assert pid not in media()._relays  # type: ignore[union-attr]
            assert await phone_status() == "left"
            await stream.close()
            await agent.close()
        finally:
            await registry.close()

    with media_nodes(remote_media, ("node-a", 400), ("node-b", 400)):
        run(scenario(dial_when_live(twilio, room, prefix, "node-a", "node-b")))


def test_with_no_media_node_alive_the_caller_is_told_and_nothing_is_recorded(twilio, room, remote_media):  # noqa: F811
    call = twilio.dial(NUMBER, digits=[room.password])
    assert call.hung_up and not call.stream_url
    assert "momentanément indisponible" in call.said[-1]
    assert not PhoneCall.objects.exists() and not Participant.objects.filter(by_phone=True).exists()


def test_when_the_rooms_node_dies_the_call_ends_cleanly(twilio, room, moderator, remote_media):  # noqa: F811
    prefix = remote_media["MEDIA_REDIS_PREFIX"]

    async def scenario(nodes, call):
        registry = NodeRegistry(REDIS_URL, prefix=prefix, max_age=2.0)
        try:
            agent = Agent(await Client(room.slug, moderator.pid).connect())
            await agent.client.greeted()
            stream, pid = await phone_admitted(agent, call)
            await talk(stream, 1.0)
            assert media()._relays[pid].node == "node-a"  # type: ignore[union-attr]  # the leg is there
            nodes.procs["node-a"].send_signal(signal.SIGKILL)
            # No node takes the room again: the stream ends (Twilio says "Votre appel est
            # terminé. Au revoir." and hangs up), the phone leaves, the agents are told.
            assert await stream.closed(timeout=30) == 1000
            status = await agent.client.expect("phone.status", timeout=10, ignore=("participant.left",
                                                                                    "participant.updated"))
            assert status["status"] == "failed"
            await wait_until_async(lambda: pid not in media()._relays, 5,  # type: ignore[union-attr]
                                   what="the relay to stop")

            async def left() -> bool:
                return await phone_status() == "left"

            await wait_until_async(left, 10, interval=0.2, what="the phone to have left")
            await stream.close()
            await agent.close()
        finally:
            await registry.close()

    with media_nodes(remote_media, ("node-a", 400)) as nodes:
        run(scenario(nodes, dial_when_live(twilio, room, prefix, "node-a")))


def test_when_the_rooms_node_dies_the_phone_moves_to_a_live_node(twilio, room, moderator, remote_media):  # noqa: F811
    prefix = remote_media["MEDIA_REDIS_PREFIX"]

    async def scenario(nodes, call):
        agent = Agent(await Client(room.slug, moderator.pid).connect())
        await agent.client.greeted()
        stream, pid = await phone_admitted(agent, call)
        first = media()._relays[pid].node  # type: ignore[union-attr]
        nodes.procs[first].send_signal(signal.SIGKILL)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 40
        while media()._relays.get(pid) is None or media()._relays[pid].node == first:  # type: ignore[union-attr]
            assert loop.time() < deadline, "the phone's leg never moved"
            assert stream.closed_code is None, "the call ended although a node could take it"
            await talk(stream, 0.2)
        second = media()._relays[pid].node  # type: ignore[union-attr]
        assert second != first and second in ("node-a", "node-b")
        # The mix flows again, from the other node (the local leg sends nothing while relayed).
        before = stream.session.media_messages
        await talk(stream, 1.0)
        assert stream.session.media_messages - before >= 25
        assert await phone_status() == "admitted"
        await stream.session.stop()
        assert await stream.closed() == 1000
        await stream.close()
        await agent.close()

    with media_nodes(remote_media, ("node-a", 400), ("node-b", 400)) as nodes:
        run(scenario(nodes, dial_when_live(twilio, room, prefix, "node-a", "node-b")))
