"""A cap on a video publisher from the loss on each subscriber's hop.

The engine runs no send-side estimator towards subscribers: what bounds a publisher's
encoder for a subscriber's sake is that subscriber's REMB, a receive-side estimate from
packet delays that loss does not move. On a hop that loses 10% without queueing (the
weak-network bench's 10% loss + 80 ms), the REMB follows the incoming rate up: the agent's
encoder went to 1.7 Mbit/s into the citizen's lossy downlink, every frame of 5-10 packets
waited for NACK round trips, and the citizen's picture froze 6.8 s in 12 s.

So each subscriber's receiver reports drive libwebrtc's own loss-based rule (the one
Chromium applies to what it sends, v1): above 10% lost, the rate is cut to
sent × (1 - loss / 2); under 2%, the cap rises 8% a report, and goes once above
LIFT_ABOVE; in between it holds. Pure: the caller passes the report's figures and the clock.
"""

from __future__ import annotations

HIGH_LOSS = 0.10
LOW_LOSS = 0.02
INCREASE = 1.08
MIN_BITRATE = 100_000  # a small picture still moves (the citizen's own encoder sat at 125 kbit/s)
LIFT_ABOVE = 2_500_000  # more than a 640x480 encoder asks for: no cap


class LossCap:
    """One subscriber's loss-based cap (bit/s, None: none), updated at each receiver report."""

    __slots__ = ("_at", "_octets", "bitrate")

    def __init__(self) -> None:
        self.bitrate: int | None = None
        self._octets: int | None = None
        self._at: float | None = None

    def update(self, fraction: int, octets: int, now: float) -> int | None:
        """A report: `fraction` lost (0-255) since the previous one, `octets` sent to this
        subscriber in all so far."""
        rate = None
        if self._at is not None and self._octets is not None and now > self._at:
            rate = 8 * max(0, octets - self._octets) / (now - self._at)
        self._octets, self._at = octets, now
        loss = fraction / 256
        if loss > HIGH_LOSS and rate:
            base = min(self.bitrate, rate) if self.bitrate is not None else rate
            self.bitrate = max(MIN_BITRATE, int(base * (1 - loss / 2)))
        elif loss < LOW_LOSS and self.bitrate is not None:
            self.bitrate = int(self.bitrate * INCREASE)
            if self.bitrate > LIFT_ABOVE:
                self.bitrate = None
        return self.bitrate
