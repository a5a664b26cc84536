"""When a room's link works: from some minutes before the start to some after the end."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class Phase(enum.Enum):
    TOO_EARLY = "too_early"
    OPEN = "open"
    OVER = "over"
    CANCELLED = "cancelled"
    ENDED = "ended"  # the agent ended it (or marked it done / no-show)


@dataclass(frozen=True)
class Window:
    opens: dt.datetime
    closes: dt.datetime

    @classmethod
    def around(cls, start: dt.datetime, end: dt.datetime, before: int, after: int) -> Window:
        return cls(start - dt.timedelta(minutes=before), end + dt.timedelta(minutes=after))

    def phase(self, now: dt.datetime, *, cancelled: bool = False, ended: bool = False) -> Phase:
        if cancelled:
            return Phase.CANCELLED
        if ended:
            return Phase.ENDED
        if now < self.opens:
            return Phase.TOO_EARLY
        if now >= self.closes:
            return Phase.OVER
        return Phase.OPEN
