"""Work Daphne's WebSocket library does at every connection for nothing, and the event loop's
wait for the GIL.

autobahn pretty-prints its whole configuration (about forty options) for a debug log line at
every WebSocket connection, whether debug lines are written or not: 7.5% of a Daphne
process's samples in a storm of connects (py-spy on bench/signalling_load.py). Its log calls
format lazily, so the pretty-printing is deferred to when the line is written: same text.
"""

from __future__ import annotations

import gc
import pprint
import sys
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


def shorten_gil_switch_interval(seconds: float) -> None:
    """How long a thread may hold the GIL while another one waits for it (Python: 5 ms).

    Why: Daphne's event loop (every socket's frames, every Redis command) and its thread pool
    (each database call: psycopg and the ORM, Python code) share one GIL. The loop gives the
    GIL up at every system call (each send to Redis or to a socket) and then waits for a
    pool thread to hand it back: up to the switch interval each time. In the reconnect storm
    after SIGKILL of the other process (bench/signalling_load.py, py-spy of the survivor),
    26% of the loop's samples were in sendmsg and 11% in handing work to the pool, i.e. in
    that wait, and chat of the sockets that never dropped took seconds to echo. A shorter
    interval lets the loop back in sooner, for a little more switching in the threads."""
    if seconds > 0:
        sys.setswitchinterval(seconds)


def freeze_start_up_objects() -> None:
    """Move what start-up loaded (Django, the apps, their modules: never garbage) out of the
    cyclic garbage collector's reach, so its passes over the older generations walk only
    what the sockets allocated since.

    Why: while the other process's ~300 sockets reconnected to a Daphne process
    (bench/signalling_load.py, kill phase, load 9-10), it spent 3.4 s of wall time in the
    collector for 29 s of CPU, its 4 full passes 340 ms each over ~208,000 objects; frozen
    (157,000 objects), 2.3 s for 25 s, full passes 155 ms (one run each, gc.callbacks)."""
    gc.freeze()
