"""The phone leg of a room: a Twilio Media Stream (μ-law 8 kHz, 20 ms frames) bridged to the
web participants. No Django.

    leg = PhoneLeg(participant_id, send=async_callable_taking_mulaw_bytes)
    leg.start()                      # the mixer's 20 ms clock: the lobby's chime until attached
    leg.feed(mulaw_bytes)            # what the phone says (any length; split into 20 ms)
    engine.attach_local(room, leg)   # admitted: its voice goes to the web, the web's to it
    engine.detach_local(room, pid)   # back to the lobby (the chime again), or gone
    leg.muted = True                 # *6 or the agent: nothing of the phone reaches the web
    await leg.close()

Phone → web: μ-law is decoded and encoded to Opus ONCE (8 kHz as is), only while the phone
is heard (admitted, not muted); the packets go into a passthrough fan-out, so every web
subscriber gets the same packets like any publisher's (media/engine/fanout.py). Web →
phone: each web publisher's Opus audio is read from its fan-out (no change to its
forwarding); every 20 ms the mixer takes what each voice's queue holds (no wake-up per
packet), decodes and resamples it to 8 kHz into a small jitter buffer of its own, sums one
frame of every buffer (never the phone's own voice: it is not a source; one voice is
passed as is), encodes μ-law and hands it to `send`.

`relay`: with media on separate nodes (media/nodes/), the leg in the Daphne process that
holds the Media Stream only plays the lobby's chime; once admitted, what the phone says
goes to `relay` (to the leg on the room's node) and the room's mix comes back from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from aiortc import RTCRtpCodecParameters, RTCRtpTransceiver
from aiortc.codecs import CODECS

from media.engine.encoded import OPUS, EncodedFrame
from media.engine.fanout import Fanout, ForwardedTrack
from media.engine.modes import PassthroughForward

from .codec import FRAME_MS, OPUS_FRAME, PHONE_FRAME, PHONE_RATE, CodecError, Downlink, MuLaw, Uplink

log = logging.getLogger(__name__)

Send = Callable[[bytes], Awaitable[None]]
TICK = FRAME_MS / 1000
# Jitter buffer of each web voice, in 20 ms frames: play once 2 are there (40 ms of delay
# absorbs the network's and the event loop's jitter); past 8 the oldest go (late frames
# would only add delay on a phone line); and a buffer that stays above 3 (a burst that
# arrived together, then a steady flow: the delay would stay) is brought back to 2.
START_FRAMES = 2
HIGH_FRAMES = 3
MAX_FRAMES = 8
HIGH_TICKS = 25  # 0.5 s above HIGH_FRAMES: not a passing burst
# The phone's voice: a pause longer than this in Twilio's frames moves the Opus timestamps
# on by the real time elapsed, so the browsers' jitter buffers see the gap as a gap.
GAP_FRAMES = 3
SILENCE = np.zeros(PHONE_FRAME, dtype=np.int16)


def opus_codec() -> RTCRtpCodecParameters:
    """Opus as aiortc negotiates it with browsers (its own parameters, as the engine's hooks
    set them, and the payload type browsers use): what a web publisher's audio publication
    has, so the phone's track is offered alike."""
    codec = next(c for c in CODECS["audio"] if c.mimeType.lower() == "audio/opus")
    return RTCRtpCodecParameters(mimeType=codec.mimeType, clockRate=codec.clockRate, channels=codec.channels,
                                 payloadType=111, parameters=dict(codec.parameters))


def waiting_chime(frames: int = 200) -> list[np.ndarray]:
    """The lobby's waiting sound, 8 kHz: two soft notes, then silence (4 s, looped)."""
    out = np.zeros(frames * PHONE_FRAME, dtype=np.float64)
    for start, freq in ((0.0, 660.0), (0.35, 523.25)):
        t = np.arange(int(0.3 * PHONE_RATE)) / PHONE_RATE
        note = np.sin(2 * np.pi * freq * t) * np.minimum(1, 10 * t) * np.exp(-4 * t)
        at = int(start * PHONE_RATE)
        out[at:at + len(note)] += note * 4000
    samples = out.astype(np.int16)
    return [samples[i:i + PHONE_FRAME] for i in range(0, len(samples), PHONE_FRAME)]


class PhonePublication:
    """The phone's voice as an engine publication: Opus packets in a passthrough fan-out."""

    kind = "audio"

    def __init__(self) -> None:
        self.fanout = Fanout("audio", lambda: None)  # audio: no keyframes to ask for

    @property
    def codec(self) -> RTCRtpCodecParameters:
        # Read when a subscriber is offered it: the engine's hooks set Opus's parameters in
        # aiortc's shared table, which a subscriber's codec preferences must match exactly.
        return opus_codec()

    def subscribe(self, transceiver: RTCRtpTransceiver, paused: bool) -> PassthroughForward:
        return PassthroughForward(self.fanout, transceiver, paused)

    def frames(self) -> Any:
        raise NotImplementedError("a phone leg has no video")

    def end(self) -> None:
        self.fanout.end()


class _Voice:
    """One web publisher's voice, decoded into 8 kHz frames for the mix."""

    def __init__(self, track: ForwardedTrack) -> None:
        self.track = track
        self.downlink = Downlink()
        self.pending = np.zeros(0, dtype=np.int16)
        self.frames: deque[np.ndarray] = deque()
        self.playing = False
        self.high_ticks = 0  # consecutive mixes that found the buffer above HIGH_FRAMES
        self.trimmed = 0
        self.malformed = 0

    def take(self) -> None:
        """Decode what arrived since the last tick into the buffer. Packets past what the
        buffer keeps are not decoded at all (a burst after a stall: they would be dropped)."""
        packets = self.track.drain()
        if len(packets) > MAX_FRAMES:
            del packets[:-MAX_FRAMES]
        for packet in packets:
            if not packet.data:
                continue
            try:
                self.push(self.downlink.decode(packet.data))
            except CodecError:
                self.malformed += 1

    def push(self, samples: np.ndarray) -> None:
        if not len(self.pending) and len(samples) == PHONE_FRAME:  # the usual 20 ms: no copy
            self.frames.append(samples)
        else:
            self.pending = np.concatenate((self.pending, samples))
        while len(self.pending) >= PHONE_FRAME:
            self.frames.append(self.pending[:PHONE_FRAME])
            self.pending = self.pending[PHONE_FRAME:]
        while len(self.frames) > MAX_FRAMES:
            self.frames.popleft()

    def pop(self) -> np.ndarray | None:
        if not self.playing:
            if len(self.frames) < START_FRAMES:
                return None
            self.playing = True
        if not self.frames:
            self.playing = False  # ran dry: build up the buffer again before playing on
            return None
        if len(self.frames) > HIGH_FRAMES:
            self.high_ticks += 1
            if self.high_ticks >= HIGH_TICKS:
                while len(self.frames) > START_FRAMES:
                    self.frames.popleft()
                    self.trimmed += 1
                self.high_ticks = 0
        else:
            self.high_ticks = 0
        return self.frames.popleft()


class PhoneLeg:
    """One phone participant in the media engine (see the module's docstring)."""

    def __init__(self, participant_id: str, send: Send, *, clock: Callable[[], float] | None = None) -> None:
        self.participant_id = participant_id
        self.publication = PhonePublication()
        self.publications: dict[str, PhonePublication] = {"audio": self.publication}
        self.muted = False
        self.attached = False  # in a room of the engine (admitted): the mix, else the chime
        self._send = send
        self._clock = clock
        self._mulaw = MuLaw()
        self._uplink = Uplink()
        self._pending = np.zeros(0, dtype=np.int16)
        self._voices: dict[str, _Voice] = {}
        self._chime = waiting_chime()
        self._chime_at = 0
        self._timestamp = 0
        self._last_feed: float | None = None
        self._mixer: asyncio.Task[None] | None = None
        # Counters (bench, tests, logs).
        self.frames_in = 0
        self.packets_out = 0
        self.frames_sent = 0
        self.late_dropped = 0
        self._malformed_gone = 0
        # Set while the room's audio is on another process (see the module's docstring):
        # what the phone says goes there, the mixer sends nothing of its own.
        self.relay: Callable[[bytes], None] | None = None

    # --- phone → web -----------------------------------------------------------------------

    def feed(self, mulaw: bytes) -> None:
        """What the phone said (μ-law bytes as Twilio sends them: 20 ms each, or any length)."""
        self.frames_in += 1
        if self.relay is not None:
            self.relay(mulaw)  # the leg on the room's node encodes it
            return
        now = self._now()
        if self._last_feed is not None and now - self._last_feed > GAP_FRAMES * TICK:
            # A pause in the phone's frames: the timestamps follow the real time.
            gap = int((now - self._last_feed - TICK) / TICK)
            self._timestamp += gap * OPUS_FRAME
        self._last_feed = now
        if self.muted or not self.attached:
            # Nobody hears it: nothing to decode or encode, only the time to keep.
            self._pending = np.zeros(0, dtype=np.int16)
            self._timestamp += OPUS_FRAME * (len(mulaw) // PHONE_FRAME)
            return
        samples = self._mulaw.decode(mulaw)
        if len(self._pending) or len(samples) != PHONE_FRAME:
            self._pending = np.concatenate((self._pending, samples))
            whole = len(self._pending) - len(self._pending) % PHONE_FRAME
            if whole == 0:
                return
            samples, self._pending = self._pending[:whole], self._pending[whole:]
        packets = self._uplink.encode(samples)
        fanout = self.publication.fanout
        frames = []
        for packet in packets:
            frames.append(EncodedFrame(OPUS, packet, self._timestamp & 0xFFFFFFFF, True, fanout.stream))
            self._timestamp += OPUS_FRAME
        self.packets_out += len(frames)
        fanout.push(OPUS, frames, False)

    # --- web → phone -----------------------------------------------------------------------

    def add_source(self, participant_id: str, publication: Any) -> None:
        """A web participant's audio publication: heard by the phone from now on."""
        encoded = getattr(publication, "encoded", None)
        if participant_id in self._voices or encoded is None or publication.kind != "audio":
            return  # only passthrough audio has encoded frames to read
        self._voices[participant_id] = _Voice(encoded(max_queue=MAX_FRAMES * 2))

    def remove_source(self, participant_id: str) -> None:
        voice = self._voices.pop(participant_id, None)
        if voice is not None:
            voice.track.stop()
            self._malformed_gone += voice.malformed

    @property
    def malformed(self) -> int:
        """Web packets that did not decode (skipped; the voice goes on)."""
        return self._malformed_gone + sum(v.malformed for v in self._voices.values())

    def mix(self) -> np.ndarray:
        """One 20 ms frame of every web voice that has one, summed (8 kHz int16)."""
        heard: list[np.ndarray] = []
        for voice in self._voices.values():
            voice.take()
            frame = voice.pop()
            if frame is not None:
                heard.append(frame)
        if len(heard) == 1:
            return heard[0]  # one voice (a 1:1): nothing to add up
        if not heard:
            return SILENCE
        total = np.sum(heard, axis=0, dtype=np.int32)
        return np.clip(total, -32768, 32767).astype(np.int16)

    def next_frame(self) -> bytes:
        """The next 20 ms of μ-law for the phone: the room's mix, or the lobby's chime."""
        if self.attached:
            samples = self.mix()
        else:
            samples = self._chime[self._chime_at]
            self._chime_at = (self._chime_at + 1) % len(self._chime)
        return self._mulaw.encode(samples)

    # --- the 20 ms clock ---------------------------------------------------------------------

    def start(self) -> None:
        if self._mixer is None:
            self._mixer = asyncio.get_running_loop().create_task(self._run(), name=f"phone mixer {self.participant_id}")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += TICK
            late = loop.time() - due
            if late > 5 * TICK:  # the loop stalled: start again from now rather than burst
                self.late_dropped += int(late / TICK)
                due = loop.time()
            try:
                if self.relay is None:
                    await self._send(self.next_frame())
                    self.frames_sent += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("phone leg %s: sending a frame failed", self.participant_id)
                return
            await asyncio.sleep(max(0.0, due - loop.time()))

    def clear_sources(self) -> None:
        for participant_id in list(self._voices):
            self.remove_source(participant_id)

    async def close(self) -> None:
        self.clear_sources()
        self.publication.end()
        task, self._mixer = self._mixer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()
