"""Token buckets: how often one connection may send a message of a given type.

Plain Python with an injected clock (tests drive time by hand). Each bucket holds up to
`burst` tokens and regains `rate` tokens per second; a message takes one or is refused.
The rates per message type are in LIMITS (documented in rooms/PROTOCOL.md, "Limits").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True)
class Limit:
    burst: int  # messages accepted at once
    rate: float  # tokens regained per second


# Generous for a person, tight for a script: a burst, then a steady pace.
LIMITS: dict[str, Limit] = {
    "chat.send": Limit(burst=10, rate=1.0),
    "name.set": Limit(burst=3, rate=0.1),
    "hand.set": Limit(burst=6, rate=0.5),
    "lobby.message": Limit(burst=5, rate=0.2),
    "rtc.offer": Limit(burst=5, rate=0.2),
    "rtc.prepare": Limit(burst=5, rate=0.2),
    "reaction.send": Limit(burst=5, rate=0.5),
    "quality.set": Limit(burst=10, rate=1.0),  # the link indicator sends a level when it changes
    # The notes page sends what was typed at most every 150 ms, and everything at a reconnect.
    "notes.update": Limit(burst=40, rate=10.0),
    "notes.sync": Limit(burst=5, rate=0.5),
}


class TokenBucket:
    def __init__(self, limit: Limit, clock: Clock = time.monotonic) -> None:
        self.limit, self._clock = limit, clock
        self._tokens = float(limit.burst)
        self._at = clock()

    def take(self) -> bool:
        """Take one token if there is one: True when the message may go through."""
        now = self._clock()
        self._tokens = min(float(self.limit.burst), self._tokens + (now - self._at) * self.limit.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def retry_after(self) -> float:
        """Seconds until the next token (0 when one is there)."""
        return max(0.0, (1 - self._tokens) / self.limit.rate)


class Limiter:
    """One connection's buckets, one per limited message type."""

    def __init__(self, limits: dict[str, Limit] = LIMITS, clock: Clock = time.monotonic) -> None:
        self._buckets = {kind: TokenBucket(limit, clock) for kind, limit in limits.items()}

    def allow(self, kind: str) -> float | None:
        """None when `kind` may be sent now, else the seconds to wait."""
        bucket = self._buckets.get(kind)
        if bucket is None or bucket.take():
            return None
        return bucket.retry_after()
