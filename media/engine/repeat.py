"""When the engine sends a repair message twice (a NACK to a publisher, a retransmission to a
subscriber), and when a hop counts as lossy (also what turns the engine's own video FEC to a
subscriber on and off: packet_path.PacketForward).

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
report, the engine sent 147 of 271 retransmissions twice). Not for a burst of more than
MAX_REPEATED numbers in one NACK: that is a queue overflowing or an outage, where twice the
repairs would add to what the link drops. A flood of small NACKs is the retransmission
budget's (rtx_budget.py: copies go only while half its bank is left). Not a single report of
25% or more as a sign of congestion: Chromium sends a report with each NACK, over tens of
milliseconds, so on a link losing 10% at random such reports are common (bench: with that guard,
0-7 copies per run at 10% loss).
"""

from __future__ import annotations

REPEAT_GAP = 0.01  # s between the two copies
LOSSY = 5  # fraction lost (/256), 2%
LOSSY_FOR = 5.0  # s a lossy report counts
MAX_REPEATED = 8  # sequence numbers in one NACK


class LossyHop:
    """Whether one hop's repairs go twice, from the receiver reports about it."""

    __slots__ = ("_lossy_at",)

    def __init__(self) -> None:
        self._lossy_at: float | None = None

    def reported(self, fraction: int, now: float) -> None:
        """A receiver report's fraction lost (0-255) about this hop."""
        if fraction >= LOSSY:
            self._lossy_at = now

    def lossy(self, now: float) -> bool:
        """Whether a report of LOSSY or more came within LOSSY_FOR."""
        return self._lossy_at is not None and now - self._lossy_at <= LOSSY_FOR

    def repeats(self, numbers: int, now: float) -> bool:
        """Whether a repair for `numbers` sequence numbers goes twice now."""
        return 0 < numbers <= MAX_REPEATED and self.lossy(now)
