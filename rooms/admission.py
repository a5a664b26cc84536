"""Admission control for room sockets: each Daphne process takes a bounded number of
handshakes at a time and refuses the rest at once, with a retry hint (close code 4503 BUSY).

Why: a room handshake is several database calls in the thread pool (a handful of threads,
a new PostgreSQL connection per call). Under a storm of connects the pool's queue grew
without bound; handshakes waited longer than the browsers did, the browsers retried, and
the abandoned handshakes still ran their queries (and Daphne killed them after its
application_close_timeout, 10 s: "took too long to shut down"). Refusing early keeps the
queue short, so every admitted handshake finishes in well under a second, and the
refused browsers come back spread out by the hint and their jittered backoff.

Plain Python: one `Admission` per process (`ADMISSION`), used by the consumer around
`connect` (rooms/consumers.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings


@dataclass
class Admission:
    max_handshakes: int  # in flight at once in this process
    max_sockets: int  # open at once in this process
    clock: Callable[[], float] = time.monotonic
    handshakes: int = 0
    sockets: set[int] = field(default_factory=set)
    # Per-second counts (this second and the one before) for the retry hint.
    _second: int = 0
    _refused: list[int] = field(default_factory=lambda: [0, 0])
    _done: list[int] = field(default_factory=lambda: [0, 0])

    def enter(self) -> bool:
        """Start a handshake if there is room for it; False: refuse it now (BUSY)."""
        self._tick()
        if self.handshakes >= self.max_handshakes or len(self.sockets) >= self.max_sockets:
            self._refused[1] += 1
            return False
        self.handshakes += 1
        return True

    def leave(self) -> None:
        """The handshake finished (accepted, refused by the room's rules, failed, cancelled)."""
        self._tick()
        self.handshakes -= 1
        self._done[1] += 1

    def opened(self, key: int) -> None:
        self.sockets.add(key)

    def closed(self, key: int) -> None:
        self.sockets.discard(key)

    def retry_after(self) -> int:
        """Seconds the refused browser should wait at least (it adds its own jitter): the
        time this process needs, at its recent pace, for the handshakes it has just refused."""
        self._tick()
        if len(self.sockets) >= self.max_sockets:
            return settings.ROOM_SOCKETS_FULL_RETRY
        refused = self._refused[0] + self._refused[1]
        pace = max(self._done[0] + self._done[1], self.max_handshakes, 1)  # handshakes per ~2 s
        return max(1, min(settings.ROOM_BUSY_MAX_RETRY, math.ceil(2 * refused / pace)))

    def _tick(self) -> None:
        second = int(self.clock())
        if second != self._second:
            gap = second - self._second
            self._refused = [self._refused[1] if gap == 1 else 0, 0]
            self._done = [self._done[1] if gap == 1 else 0, 0]
            self._second = second


def from_settings() -> Admission:
    return Admission(max_handshakes=settings.ROOM_MAX_HANDSHAKES, max_sockets=settings.ROOM_MAX_SOCKETS)


ADMISSION = from_settings()
