"""The event loop a media node process runs on: uvloop by default, asyncio as the fallback.

A media node (and the benchmark's server, which measures what production runs) owns its
process, so it may pick its loop. uvloop's C loop and UDP transports take ~10% off the
engine's per-packet CPU, most of which is event loop and queue plumbing. The in-process
engine inside Daphne is not affected: Daphne's Twisted reactor owns that loop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("media.node")

UVLOOP_DEFAULT = True  # settings.MEDIA_UVLOOP's default; the bench server uses it too


def loop_factory(uvloop: bool = UVLOOP_DEFAULT) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None (asyncio's default) if off or not importable."""
    if not uvloop:
        return None
    try:
        import uvloop as uvloop_module
    except ImportError as error:
        log.warning("uvloop unavailable (%s): running on asyncio's event loop", error)
        return None
    return uvloop_module.new_event_loop


def run[T](main: Coroutine[Any, Any, T], *, uvloop: bool = UVLOOP_DEFAULT) -> T:
    """asyncio.run(main) on uvloop when asked for and installed.

    Everything imported so far (aiortc, PyAV, numpy, Django: ~60k objects that live as
    long as the process) is moved out of the cyclic garbage collector's reach first
    (`gc.freeze`): the packet path's short-lived objects trigger collections, and each
    full one walked all of that again (the collector was 7.7% of the bench server's
    samples at 10 appointments, issue 20; a full collection here takes ~50-140 ms).
    """
    gc.freeze()
    return asyncio.run(main, loop_factory=loop_factory(uvloop))


def loop_name() -> str:
    """'uvloop' or 'asyncio': what the running loop is (for logs and the bench)."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
