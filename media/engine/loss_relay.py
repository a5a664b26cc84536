"""Subscribers' loss relayed to an audio publisher's encoder (Opus in-band FEC).

Chromium's Opus encoder codes in-band FEC (LBRR: each packet carries a coarse copy of the
previous frame) only as far as the loss it expects, which it takes from the `fraction
lost` of the receiver reports about its stream (libwebrtc's ChannelSend hands it to
AudioEncoderOpus as its uplink's packet loss; 0 means no FEC at all). Behind a forwarding
server those reports describe the first hop only: a publisher on a clean link never
protected what it sent to a subscriber on a lossy one (weak-network bench, 10% loss:
the agent's packets reached the citizen without one LBRR frame).

So, as SFUs do (LiveKit's audio loss relay), the receiver report the engine sends an
audio publisher gives as `fraction lost` the worst of its own hop's and of what each of
that track's subscribers reports on its own hop (the engine numbers audio on without the
publisher's gaps, so a subscriber's figure never counts the uplink's loss twice). Only the
fraction: the cumulative count stays the uplink's own, so the publisher's connection
indicator (packetsLost) and its congestion controller (cumulative deltas) still see their
own link.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Seconds: a subscriber that stopped reporting no longer counts. Chromium reports on audio
# every 5 s on average (randomised 2.5-7.5 s): two missed reports, then forgotten.
MAX_AGE = 16.0


class DownstreamLoss:
    """The last `fraction lost` (0-255) a subscriber reported about one of our senders."""

    __slots__ = ("_at", "_fraction")

    def __init__(self) -> None:
        self._fraction = 0
        self._at: float | None = None

    def update(self, fraction: int, now: float) -> None:
        self._fraction = max(0, min(255, fraction))
        self._at = now

    def current(self, now: float) -> int:
        """The reported fraction, 0 once older than MAX_AGE (or never reported)."""
        if self._at is None or now - self._at > MAX_AGE:
            return 0
        return self._fraction


def reported_fraction(packet: Any, ssrc: int) -> int | None:
    """The fraction lost a receiver or sender report (aiortc's RtcpRrPacket/RtcpSrPacket)
    gives about `ssrc`, None if it has no block about it."""
    for block in getattr(packet, "reports", None) or ():
        if block.ssrc == ssrc:
            return int(block.fraction_lost)
    return None


def upstream_fraction(own: int, downstream: Iterable[int]) -> int:
    """The fraction lost to report to the publisher: its hop's, or a worse subscriber's."""
    return max(own, *downstream, 0)
