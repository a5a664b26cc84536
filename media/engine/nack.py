"""When to NACK a publisher's missing video packets again, and when to give a hole up.

Pure (the caller passes the clock), so tests drive it with plain numbers.

Retries are paced by the publisher's round trip, measured here from NACK to retransmission
(Karn's rule: only a hole NACKed once gives a sample, since a later retransmission cannot be
matched to its request). A hole is given up only after `give_up_after` from when it was
noticed: with a 160 ms round trip and 10% loss both ways, a retransmission often needs two or
three requests; giving up before the last can come back costs every subscriber a keyframe
round trip and a freeze.

Before this module, every newly noticed loss also counted as a retry of every pending hole
(4 "tries" in a few tens of milliseconds at 10% loss), so holes were given up long before a
retransmission could arrive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

INITIAL_RTT = 0.1  # s, until a retransmission measures it
MIN_RETRY = 0.04  # s, never NACK the same packet more often
RETRY_FACTOR = 1.25  # a retry waits the round trip and a margin for the publisher's pacing
GIVE_UP = 1.0  # s after a hole was noticed, at least...
GIVE_UP_RTTS = 4  # ...and at least this many round trips
WAIT_BUCKET = 0.05  # s, the histogram of how long holes waited
# What a publisher surely keeps to retransmit: libwebrtc's RtpPacketHistory holds a sent packet
# at least max(1 s, 3 round trips) (kMinPacketDuration, kMinPacketDurationRtt); past that only
# while fewer than its 600 packets are stored, and never past 3 times that. A gap older than the
# sure part is not a repair to count on, and a keyframe costs the same round trip.
SENDER_HISTORY = 1.0  # s
SENDER_HISTORY_RTTS = 3


@dataclass(slots=True)
class _Hole:
    noticed: float
    first: float | None = None  # first request
    sent: float | None = None  # latest request
    tries: int = 0


class NackTracker:
    """The missing sequence numbers of one stream, each with its request history."""

    def __init__(self) -> None:
        self._holes: dict[int, _Hole] = {}
        self.rtt = INITIAL_RTT  # smoothed NACK -> retransmission delay, s
        self.samples = 0
        self.requests = 0  # sequence numbers NACKed, retries included
        self.repairs = 0  # holes a retransmission filled
        self.given_up = 0  # holes given up
        # How long holes held the video (noticed -> filled), in WAIT_BUCKET steps: what a
        # subscriber's buffer must cover (the engine forwards video in order).
        self.waits: Counter[int] = Counter()

    def __len__(self) -> int:
        return len(self._holes)

    def __contains__(self, sequence: int) -> bool:
        return sequence in self._holes

    @property
    def retry_interval(self) -> float:
        return max(MIN_RETRY, RETRY_FACTOR * self.rtt)

    @property
    def give_up_after(self) -> float:
        return max(GIVE_UP, GIVE_UP_RTTS * self.rtt)

    def beyond_repair(self, media_gap: float) -> bool:
        """Whether a run of losses spanning `media_gap` seconds of media (the RTP timestamps
        either side of it) began longer ago than the publisher surely keeps packets to
        retransmit: its first packets may be gone, so NACKs may never complete its frames
        (an outage): a keyframe instead."""
        return media_gap > max(SENDER_HISTORY, SENDER_HISTORY_RTTS * self.rtt)

    def add(self, sequences: Iterable[int], now: float) -> None:
        for sequence in sequences:
            if sequence not in self._holes:
                self._holes[sequence] = _Hole(now)

    def arrived(self, sequence: int, now: float) -> None:
        """The original came late, or FEC rebuilt it: no round trip to measure, the wait counted."""
        hole = self._holes.pop(sequence, None)
        if hole is not None:
            self._waited(now - hole.noticed)

    def _waited(self, seconds: float) -> None:
        self.waits[int(seconds / WAIT_BUCKET)] += 1

    def repaired(self, sequence: int, now: float) -> None:
        """A retransmission of `sequence` arrived."""
        hole = self._holes.pop(sequence, None)
        if hole is not None:
            self.repairs += 1
            self._waited(now - hole.noticed)
        if hole is None or hole.sent is None or hole.first is None:
            return
        if hole.tries == 1:
            sample = now - hole.sent
        elif now - hole.sent < 0.75 * self.rtt:
            # Back too soon to answer the latest request: it answered an earlier one, so the
            # estimate is short and retries go out before retransmissions can return (with
            # Karn's rule alone it would never be corrected: every repair then has 2+ tries).
            # The first request bounds it from above: err long.
            sample = now - hole.first
        else:
            return
        if 0 < sample < 2 * GIVE_UP:
            self.rtt = sample if not self.samples else 0.875 * self.rtt + 0.125 * sample
            self.samples += 1

    def retain(self, missing: set[int]) -> None:
        """Forget holes the receive statistics no longer count as missing (too old)."""
        for sequence in [s for s in self._holes if s not in missing]:
            del self._holes[sequence]

    def due(self, now: float) -> tuple[list[int], list[int]]:
        """(to NACK now, given up now); the former are marked as sent at `now`."""
        retry, give_up = self.retry_interval, self.give_up_after
        nack: list[int] = []
        lost: list[int] = []
        for sequence, hole in self._holes.items():
            if now - hole.noticed >= give_up:
                lost.append(sequence)
            elif hole.sent is None or now - hole.sent >= retry:
                if hole.first is None:
                    hole.first = now
                hole.sent = now
                hole.tries += 1
                nack.append(sequence)
        for sequence in lost:
            del self._holes[sequence]
        self.requests += len(nack)
        self.given_up += len(lost)
        return nack, lost

    def next_due(self) -> float | None:
        """When `due` will next have something to do, if anything is pending."""
        retry, give_up = self.retry_interval, self.give_up_after
        return min((min(hole.noticed + give_up, hole.noticed if hole.sent is None else hole.sent + retry)
                    for hole in self._holes.values()), default=None)
