"""How much playout delay a publisher's video viewers should keep, from how its uplink's losses
are repaired.

Pure (the caller passes the clock and the round trip), so tests drive it with plain numbers.

The engine forwards video in order: a packet lost on the publisher's uplink holds the frame,
and the frames behind it, until the retransmission the engine asked for arrives, a round trip
of the publisher's link later (nack.py measures it). A viewer whose own link is clean sees no
loss of its own, so its browser learns of those late frames only as freezes, and its buffer
then grows by at most 100 ms per second (libwebrtc's VCMTiming): on a link losing 10%, the
first seconds froze 0.2-1.8 s (docs/weak-network-bench.md). The engine sees the first repair
itself, so it asks every viewer for a buffer that covers one (libwebrtc's playout-delay RTP
header extension, written per subscriber by packets.ExtensionMapper) from then on, for as long
as repairs go on, and nothing otherwise: a clean call keeps its lowest delay.

Only for repairs slow enough to freeze the picture: a frame late by less than ~150 ms at 20 fps
is no freeze (WebRTC's freeze: an interval over max(3 frame intervals, one + 150 ms)), while the
deeper buffer is paid in mouth-to-ear delay (lip sync holds the sound with the picture). At 3%
loss (a 100 ms round trip) the agent froze 0.0 s with or without it. Once asked, a shorter
round trip lowers the value without withdrawing it (each raise from 0 pauses the picture once,
by the delay added).
"""

from __future__ import annotations

from collections import deque

REPAIRS = 2  # retransmissions within WINDOW that show a lossy uplink (one is a stray loss)
WINDOW = 20.0  # s; also how long the hint stays after the last repair
RTT_FACTOR = 1.5  # a repair's round trip and the frame interval and pacing around it
FREEZE_RTT = 0.15  # s: repairs faster than this hold a frame less than a freeze
CAP_MS = 300  # the pages' own cap (playout.js): lip sync holds the audio as long
STEP_MS = 10  # the extension's unit


class PlayoutHint:
    """The minimum playout delay to ask of one publication's viewers (ms, 0: none)."""

    def __init__(self) -> None:
        self._repairs: deque[float] = deque()
        self._asked = False

    def repaired(self, now: float) -> None:
        """A retransmission filled one of the publisher's holes."""
        self._repairs.append(now)
        self._forget(now)

    def _forget(self, now: float) -> None:
        while self._repairs and now - self._repairs[0] > WINDOW:
            self._repairs.popleft()

    def current(self, now: float, rtt: float) -> int:
        """What viewers should keep now, given the publisher's repair round trip `rtt` (s)."""
        self._forget(now)
        if len(self._repairs) < REPAIRS:
            self._asked = False
            return 0
        if not self._asked and rtt < FREEZE_RTT:
            return 0
        self._asked = True
        wanted = min(CAP_MS, round(RTT_FACTOR * rtt * 1000))  # whole ms: 1.5 x 0.1 s is 150, not 150.00...1
        # At least one step: asked is never 0 (a round trip under 4 ms would round to it).
        return max(STEP_MS, -(-wanted // STEP_MS) * STEP_MS)
