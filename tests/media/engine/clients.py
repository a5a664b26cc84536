"""Real aiortc client peers for engine tests: they publish synthetic media and decode what they receive."""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from media.engine import MediaEngine
from media.engine.packet_path import PacketForward, PacketPublication

VIDEO_FPS = 15
COLORS = {  # BGR, one per participant, so a viewer can tell whose picture it shows
    "alice": (0, 0, 220),
    "bob": (0, 200, 0),
    "carol": (210, 0, 0),
    "dave": (0, 200, 200),
}


class ColorVideo(MediaStreamTrack):
    """A solid-colour 160x120 picture at 15 fps; with `noise`, grainy (frames of several packets)."""

    kind = "video"

    def __init__(self, bgr: tuple[int, int, int], noise: bool = False) -> None:
        super().__init__()
        self._image = np.zeros((120, 160, 3), dtype=np.uint8)
        self._image[:, :] = bgr
        self._noise = np.random.default_rng(0) if noise else None
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += 90000 // VIDEO_FPS
            wait = self._start + self._pts / 90000 - time.monotonic()
            if wait > 0:  # paced in real time, as a camera would (the scenario)
                await asyncio.sleep(wait)
        image = self._image
        if self._noise is not None:
            grain = self._noise.integers(-40, 40, image.shape, dtype=np.int16)
            image = np.clip(image.astype(np.int16) + grain, 0, 255).astype(np.uint8)
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, 90000)
        return frame


class ToneAudio(MediaStreamTrack):
    """A 20 ms mono 48 kHz sine frame every 20 ms."""

    kind = "audio"

    def __init__(self, hz: float = 440.0) -> None:
        super().__init__()
        self._hz = hz
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += 960
            wait = self._start + self._pts / 48000 - time.monotonic()
            if wait > 0:  # paced in real time, as a microphone would (the scenario)
                await asyncio.sleep(wait)
        t = (np.arange(960) + self._pts) / 48000
        samples = (np.sin(2 * math.pi * self._hz * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, 48000)
        return frame


@dataclass
class Received:
    kind: str
    frames: int = 0
    last_bgr: tuple[int, int, int] | None = None
    first_at: float | None = None


@dataclass
class Client:
    """One participant: offers sendrecv audio + video at join, answers server offers."""

    engine: MediaEngine
    room: str
    name: str
    video_codec: str | None = None  # e.g. "video/H264" to force a codec
    noisy_video: bool = False  # grainy picture: frames of several packets
    received: dict[str, Received] = field(default_factory=dict)  # mid -> what arrived
    tracks: dict[str, dict[str, str]] = field(default_factory=dict)  # latest server map
    offers_answered: int = 0
    slots: int = 0  # receive-only audio + video pairs offered for the room's tracks (as the room page)
    rtp_in: int = 0  # RTP packets that reached this peer's transport, before any routing

    def __post_init__(self) -> None:
        # max-bundle, as browsers: aiortc's "balanced" leaves a second m-line of a kind on a dead transport.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self._offers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    async def offer(self) -> str:
        self.pc.addTransceiver(ToneAudio(), direction="sendrecv")
        video = self.pc.addTransceiver(ColorVideo(COLORS[self.name], self.noisy_video), direction="sendrecv")
        if self.video_codec:
            video.setCodecPreferences([RTCRtpCodecCapability(mimeType=self.video_codec, clockRate=90000,
                                                             parameters=_h264_params())])
        for _ in range(self.slots):
            self.pc.addTransceiver("audio", direction="recvonly")
            self.pc.addTransceiver("video", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def join(self) -> dict[str, Any]:
        reply = await self.engine.join(self.room, self.name, await self.offer())
        return await self._answered(reply)

    async def prepare(self) -> dict[str, Any]:
        """The waiting room's connection (MediaEngine.prepare)."""
        return await self._answered(await self.engine.prepare(self.room, self.name, await self.offer()))

    async def _answered(self, reply: dict[str, Any]) -> dict[str, Any]:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        self.tracks = reply["tracks"]
        self._count_rtp()
        self._tasks.append(asyncio.ensure_future(self._answer_offers()))
        return reply

    def _count_rtp(self) -> None:
        """Count every RTP packet the transport decrypts, whichever receiver (if any) takes it."""
        transport = self.pc.getTransceivers()[0].receiver.transport  # bundled: one for all
        real = transport._handle_rtp_data

        async def counting(data: bytes, arrival_time_ms: int) -> None:
            self.rtp_in += 1
            await real(data, arrival_time_ms)

        transport._handle_rtp_data = counting

    def deliver(self, payload: dict[str, Any]) -> None:
        self._offers.put_nowait(payload)

    def answer_sdp(self, sdp: str) -> str:
        """The answer as this client's browser would send it (subclasses: what it adds)."""
        return sdp

    async def _answer_offers(self) -> None:
        while True:
            payload = await self._offers.get()
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=payload["sdp"], type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            self.tracks = payload["tracks"]
            await self.engine.answer(self.room, self.name, self.answer_sdp(self.pc.localDescription.sdp))
            self.offers_answered += 1

    def _on_track(self, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        self._tasks.append(asyncio.ensure_future(self._read(transceiver.mid, track)))

    async def _read(self, mid: str, track: MediaStreamTrack) -> None:
        stats = self.received.setdefault(mid, Received(track.kind))
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            stats.frames += 1
            if stats.first_at is None:
                stats.first_at = time.monotonic()
            if track.kind == "video":
                image = frame.to_ndarray(format="bgr24")
                stats.last_bgr = tuple(int(v) for v in image.reshape(-1, 3).mean(axis=0))

    def streams(self) -> dict[str, str]:
        """mid -> msid stream id, from the server's latest offer."""
        out, mid = {}, None
        for line in self.pc.remoteDescription.sdp.splitlines():
            if line.startswith("m="):
                mid = None
            elif line.startswith("a=mid:"):
                mid = line[6:]
            elif line.startswith("a=msid:") and mid is not None:
                out[mid] = line[7:].split()[0]
        return out

    def frames_from(self, publisher: str, kind: str) -> int:
        """Frames received on the mid the server says carries `publisher`'s `kind`."""
        total = 0
        for mid, info in self.tracks.items():
            if info == {"participant_id": publisher, "kind": kind} and mid in self.received:
                total += self.received[mid].frames
        return total

    def colour_from(self, publisher: str) -> tuple[int, int, int] | None:
        for mid, info in self.tracks.items():
            if info == {"participant_id": publisher, "kind": "video"} and mid in self.received:
                return self.received[mid].last_bgr
        return None

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()


def _h264_params() -> dict[str, Any]:
    return {"level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "42e01f"}


def colour_close(seen: tuple[int, int, int] | None, expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return seen is not None and all(abs(a - b) <= tolerance for a, b in zip(seen, expected, strict=True))


class Room:
    """A MediaEngine plus its clients, with the offer callback routed to the right client."""

    def __init__(self, mode: str = "passthrough", room: str = "r1", **engine_options: Any) -> None:
        self.clients: dict[str, Client] = {}
        self.room = room
        self.engine = MediaEngine(
            mode=mode, ice_servers=[], on_server_offer=self._on_offer, gather_timeout=2, **engine_options
        )

    async def _on_offer(self, room_id: str, participant_id: str, payload: dict[str, Any]) -> None:
        self.clients[participant_id].deliver(payload)

    async def join(self, name: str, **kwargs: Any) -> Client:
        client = Client(self.engine, self.room, name, **kwargs)
        self.clients[name] = client
        await client.join()
        return client

    async def wait(self, name: str, **kwargs: Any) -> Client:
        """A participant in the waiting room with its prepared connection."""
        client = Client(self.engine, self.room, name, **kwargs)
        self.clients[name] = client
        await client.prepare()
        return client

    async def leave(self, name: str) -> None:
        await self.engine.leave(self.room, name)
        await self.clients.pop(name).close()

    def video_publication(self, name: str) -> PacketPublication:
        """The engine's publication of `name`'s video (the packet path's)."""
        publication = self.engine._peer(self.room, name).publications["video"]
        assert isinstance(publication, PacketPublication)
        return publication

    def video_forward(self, publisher: str, viewer: str) -> PacketForward:
        """The engine's forward of `publisher`'s video to `viewer`."""
        transceivers = self.engine._peer(self.room, viewer).pc.getTransceivers()
        return next(f for f in self.video_publication(publisher).forwards if f.transceiver in transceivers)

    async def close(self) -> None:
        await self.engine.shutdown()
        await asyncio.gather(*(c.close() for c in self.clients.values()), return_exceptions=True)


def remb_to(publisher: Client, viewer: Client) -> list[int]:
    """The REMB bitrates the server sends `publisher` for its video, as they arrive; the
    viewer's own estimator is off, so only the server's estimate (or what a test injects)
    is reported."""
    from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, unpack_remb_fci

    for transceiver in viewer.pc.getTransceivers():
        transceiver.receiver._RTCRtpReceiver__remote_bitrate_estimator = None
    sender = next(t.sender for t in publisher.pc.getTransceivers() if isinstance(t.sender.track, ColorVideo))
    rembs: list[int] = []
    real = sender._handle_rtcp_packet

    async def spy(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            rembs.append(unpack_remb_fci(packet.fci)[0])
        await real(packet)

    sender._handle_rtcp_packet = spy
    return rembs


def run(coro_factory: Callable[[], Awaitable[Any]], timeout: float = 60) -> Any:
    """Run one async test body with a hard timeout."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro_factory(), timeout)

    return asyncio.run(bounded())
