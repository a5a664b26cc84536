"""When the engine sends a repair message twice: a NACK to a publisher, a retransmission to a
subscriber.

Pure (the caller passes the clock), so tests drive it with plain numbers.

On a hop that loses packets at random (a mobile link), a lost NACK or a lost retransmission
costs a whole extra round trip: at 10% loss and a 170 ms round trip, one hole in ten takes
two or more, past a 300 ms video buffer, so a freeze. A second copy, REPEAT_GAP later, makes
that one in a hundred. The copy is the same protected bytes (the receiver's SRTP replay check
drops it when the first arrived); a publisher's browser ignores a NACK for a packet it
retransmitted less than a round trip ago (libwebrtc's RtpPacketHistory), so a NACK that
arrived twice costs it nothing.

Which hop is lossy: one whose receiver report said LOSSY or more within LOSSY_FOR. Not the last
report alone: Chromium's fraction lost counts the packets its NACKs repaired as received, so
on a link losing 10% its reports swing between 0 and a few per cent (bench: with the last
report, the engine sent 147 of 271 retransmissions twice). Not on a congested hop, one whose
reports said CONGESTED or more within LOSSY_FOR, nor for a burst of more than MAX_REPEATED
numbers in one NACK: that is a queue overflowing or an outage, where twice the repairs would
add to what the link drops (bench, a 400 kbit/s downlink right after a clean call: 37-48% lost
for 5 s, 2849 retransmissions, 369 of them twice before this guard).
"""

from __future__ import annotations

REPEAT_GAP = 0.01  # s between the two copies
LOSSY = 5  # fraction lost (/256), 2%: as the engine's video FEC (packet_path.FEC_ON)
LOSSY_FOR = 5.0  # s a lossy or congested report counts
CONGESTED = 64  # 25%: a 1 s report at 10% random loss reaches it about once in a thousand
MAX_REPEATED = 8  # sequence numbers in one NACK


class LossyHop:
    """Whether one hop's repairs go twice, from the receiver reports about it."""

    __slots__ = ("_congested_at", "_lossy_at")

    def __init__(self) -> None:
        self._lossy_at: float | None = None
        self._congested_at: float | None = None

    def reported(self, fraction: int, now: float) -> None:
        """A receiver report's fraction lost (0-255) about this hop."""
        if fraction >= CONGESTED:
            self._congested_at = now
        elif fraction >= LOSSY:
            self._lossy_at = now

    def repeats(self, numbers: int, now: float) -> bool:
        """Whether a repair for `numbers` sequence numbers goes twice now."""
        return (0 < numbers <= MAX_REPEATED and _within(self._lossy_at, now)
                and not _within(self._congested_at, now))


def _within(at: float | None, now: float) -> bool:
    return at is not None and now - at <= LOSSY_FOR
