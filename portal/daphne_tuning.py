"""Work Daphne's WebSocket library does at every connection for nothing.

autobahn pretty-prints its whole configuration (about forty options) for a debug log line at
every WebSocket connection, whether debug lines are written or not: 7.5% of a Daphne
process's samples in a storm of connects (py-spy on bench/signalling_load.py). Its log calls
format lazily, so the pretty-printing is deferred to when the line is written: same text.
"""

from __future__ import annotations

import pprint
from typing import Any


class LazyPformat:
    """pprint.pformat(value), computed only if formatted into a written log line."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        return format(pprint.pformat(self.value), spec)

    def __str__(self) -> str:
        return pprint.pformat(self.value)


def defer_autobahn_debug_formatting() -> None:
    """autobahn.websocket.protocol uses pformat for its debug lines, and in Timings.__str__
    (which must return a str: it calls pprint's own). Left alone if autobahn changed."""
    from autobahn.websocket import protocol

    if getattr(protocol, "pformat", None) is not pprint.pformat or not hasattr(protocol, "Timings"):
        return

    def timings_text(self: Any) -> str:
        return pprint.pformat(self._timings)

    protocol.Timings.__str__ = timings_text  # type: ignore[method-assign]
    setattr(protocol, "pformat", LazyPformat)  # noqa: B010  (a module global of autobahn)
