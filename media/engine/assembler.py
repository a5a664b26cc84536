"""Frame assembly that replaces aiortc's JitterBuffer on a forwarding receiver.

aiortc's buffer releases a frame only when the next frame's first packet arrives (one
frame of added latency), holds audio for 4 packets, and after an unrecovered loss stops
releasing frames until hundreds of packets have piled up (seconds of frozen picture).
A forwarding unit needs none of that: the browser has its own jitter buffer. So:

- audio: every packet newer than the last one is a frame, at once;
- video: a frame is released as soon as its packets from a known frame start up to the
  marker bit are all present (NACK/RTX fill holes meanwhile); if a hole is still there
  after `loss_timeout`, the damaged frames are dropped, assembly resumes at the next frame
  boundary, and the batch is flagged `lost` so the fan-out waits for a keyframe.

The object honours the JitterBuffer contract used by RTCRtpReceiver._handle_rtp_packet:
`add(packet) -> (pli_flag, frame_or_None)` where the frame has a writable `timestamp`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiortc.rtp import RtpPacket

from . import aiortc_hooks

_HALF = 0x8000
_RESYNC_AFTER_LATE = 50  # consecutive "late" packets mean the publisher restarted its sequence
_MAX_FRAME_PACKETS = 2000


class FrameBatch:
    """What the receiver hands to the decoder queue: one or more complete frames."""

    __slots__ = ("frames", "lost", "timestamp")

    def __init__(self, frames: list[tuple[bytes, int]], lost: bool) -> None:
        self.frames = frames  # (depayloaded data, original RTP timestamp)
        self.lost = lost  # frames were dropped just before these ones
        self.timestamp = frames[0][1]  # rewritten by the receiver's TimestampMapper; unused


def _newer(a: int, b: int) -> bool:
    """Sequence number `a` comes after `b` (modulo 2^16)."""
    return 0 < ((a - b) & 0xFFFF) < _HALF


class AudioAssembler:
    """Every in-order packet is a frame; late or duplicate packets are dropped."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._ssrc: int | None = None
        self._late = 0

    @property
    def ssrc(self) -> int | None:
        """The publisher's media SSRC (for PLI), once a packet arrived."""
        return self._ssrc

    def add(self, packet: RtpPacket) -> tuple[bool, FrameBatch | None]:
        seq = packet.sequence_number
        if packet.ssrc != self._ssrc:
            self._ssrc, self._last = packet.ssrc, None
        if self._last is not None and not _newer(seq, self._last):
            self._late += 1
            if self._late < _RESYNC_AFTER_LATE:
                return False, None
        self._late = 0
        self._last = seq
        return False, FrameBatch([(aiortc_hooks.depayloaded(packet), packet.timestamp)], lost=False)


class VideoAssembler:
    """Releases complete video frames (start .. marker) as soon as they are complete."""

    def __init__(self, loss_timeout: float = 0.3, clock: Callable[[], float] = time.monotonic) -> None:
        self.loss_timeout = loss_timeout
        self._clock = clock
        self._pending: dict[int, RtpPacket] = {}
        self._next: int | None = None  # first sequence number of the next frame, once known
        self._newest: int | None = None
        self._ssrc: int | None = None
        self._stalled_since: float | None = None
        self._late = 0
        self._lost = False
        self.skips = 0  # how many times a hole was given up on (for tests and stats)

    @property
    def ssrc(self) -> int | None:
        """The publisher's media SSRC (for PLI), once a packet arrived."""
        return self._ssrc

    def add(self, packet: RtpPacket) -> tuple[bool, FrameBatch | None]:
        seq = packet.sequence_number
        if packet.ssrc != self._ssrc:
            self._reset()
            self._ssrc = packet.ssrc
        if self._next is not None and not (seq == self._next or _newer(seq, self._next)):
            self._late += 1
            if self._late < _RESYNC_AFTER_LATE:
                return False, None  # retransmission too late, or duplicate
            self._reset()
            self._lost = True
        self._late = 0
        self._pending[seq] = packet
        if self._newest is None or _newer(seq, self._newest):
            self._newest = seq
        if self._next is None:
            self._find_boundary()

        frames = self._drain()
        if not frames and self._pending:
            now = self._clock()
            if self._stalled_since is None:
                self._stalled_since = now
            elif now - self._stalled_since > self.loss_timeout or len(self._pending) > _MAX_FRAME_PACKETS:
                self._skip()
                frames = self._drain()
        if frames or not self._pending:
            self._stalled_since = None if not self._pending else self._clock()
        if not frames:
            return False, None
        batch = FrameBatch(frames, lost=self._lost)
        self._lost = False
        return False, batch

    def fill(self, seq: int) -> FrameBatch | None:
        """A number that carries no frame (an FEC packet's place, fed in order): passed when
        it is the next one awaited, as if a packet of nothing came; frames it completes."""
        if self._next != seq or seq in self._pending:
            return None  # before the first boundary, or behind a hole: the hole decides
        self._next = (seq + 1) & 0xFFFF
        if self._newest is None or _newer(seq, self._newest):
            self._newest = seq
        frames = self._drain()
        self._stalled_since = None if not self._pending else self._clock()
        if not frames:
            return None
        batch = FrameBatch(frames, lost=self._lost)
        self._lost = False
        return batch

    def _reset(self) -> None:
        self._pending.clear()
        self._next = self._newest = None
        self._stalled_since = None
        self._late = 0

    def _ordered(self) -> list[int]:
        """Pending sequence numbers, oldest first (relative to the newest one)."""
        assert self._newest is not None
        base = self._newest - _HALF
        return sorted(self._pending, key=lambda s: (s - base) & 0xFFFF)

    def _find_boundary(self) -> None:
        """Start at the packet after the oldest pending marker: a frame start for sure."""
        for seq in self._ordered():
            if self._pending[seq].marker:
                self._drop_through(seq)
                self._next = (seq + 1) & 0xFFFF
                return

    def _skip(self) -> None:
        """Give up on the hole: drop through the first marker after it, resume after."""
        self.skips += 1
        self._lost = True
        self._next = None
        self._find_boundary()
        if self._next is None:
            self._pending.clear()

    def _drop_through(self, last: int) -> None:
        for seq in self._ordered():
            del self._pending[seq]
            if seq == last:
                return

    def _drain(self) -> list[tuple[bytes, int]]:
        out: list[tuple[bytes, int]] = []
        pending = self._pending
        while self._next is not None:
            seq = self._next
            parts: list[RtpPacket] = []
            timestamp: int | None = None
            complete = False
            while len(parts) < _MAX_FRAME_PACKETS:
                packet = pending.get(seq)
                if packet is None:
                    break
                if timestamp is None:
                    timestamp = packet.timestamp
                elif packet.timestamp != timestamp:
                    complete = True  # previous frame ended without a marker bit
                    break
                parts.append(packet)
                seq = (seq + 1) & 0xFFFF
                if packet.marker:
                    complete = True
                    break
            if not complete or timestamp is None:
                return out
            for packet in parts:
                del pending[packet.sequence_number]
            out.append((b"".join([aiortc_hooks.depayloaded(p) for p in parts]), timestamp))
            self._next = seq
        return out
