"""How much a subscriber's retransmissions may take: at most SHARE of the media sent to it.

Pure (the caller passes the bytes sent so far), so tests drive it with plain numbers.

A subscriber whose link suddenly carries less than it is sent (bench: a 400 kbit/s downlink
right after a clean call) loses packets to its queue and NACKs them; answering every NACK then
adds more than the media itself (2849-4619 retransmissions in 40 s, about 1 Mbit/s, while the
publisher's encoder had come down to 125 kbit/s), so the queue stays full, every frame breaks
and the page switched itself to audio only (2 runs of 8). libwebrtc limits its own
retransmissions by rate for the same reason (RtpSender's retransmission rate limiter). Here
the budget is earned by what was sent: random loss, even 10% with each repair sent twice
(repeat.py), needs a fifth of the media; a flood is cut to half of it, and the publisher's
cap (the subscriber's REMB) brings the media down.
"""

from __future__ import annotations

SHARE = 0.5  # retransmitted bytes per media byte sent
CAP = 32_000  # bytes banked at most: a burst of ~30 packets after a calm spell
COPY_KEEP = CAP / 2  # what a second copy leaves in the bank
# A retransmission's bytes on the wire beyond the packet it repeats: RTX's original sequence
# number (2), the SRTP tag (10) and what the engine's header extensions add (mid, playout delay).
RTX_OVERHEAD = 32


class RetransmitBudget:
    """One subscriber's retransmission allowance, in bytes."""

    __slots__ = ("_seen", "_tokens", "denied", "denied_copies")

    def __init__(self) -> None:
        self._tokens = float(CAP)
        self._seen = 0  # media bytes sent when last earned
        self.denied = 0  # first retransmissions refused
        self.denied_copies = 0  # second copies refused (repeat.py)

    def level(self, sent: int) -> float:
        """Bytes in the bank, `sent` media bytes sent so far (a counter that only grows; a
        reset earns nothing). Low while the subscriber NACKs more than random loss would: its
        link is flooded (packet_path: no FEC then)."""
        self._tokens = min(float(CAP), self._tokens + SHARE * max(0, sent - self._seen))
        self._seen = sent
        return self._tokens

    def spend(self, size: int, sent: int, keep: float = 0.0) -> bool:
        """Whether a retransmission of `size` bytes may go (`sent` as for level), leaving at
        least `keep` bytes in the bank (a second copy, repeat.py: never at the expense of a
        first retransmission)."""
        if size + keep > self.level(sent):
            if keep:
                self.denied_copies += 1
            else:
                self.denied += 1
            return False
        self._tokens -= size
        return True
