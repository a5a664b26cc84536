"""Database calls from the event loop: one helper for the consumer, the heartbeat and the actions."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections

_handshake_threads: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def handshake_threads() -> ThreadPoolExecutor | None:
    """The room handshakes' own threads (ROOM_HANDSHAKE_THREADS; None when 0: the shared
    ones). Why: every socket's messages (chat, hand, lobby) run their database calls in the
    event loop's executor, first come first served; on the survivor of a killed Daphne the
    ~300 reconnecting handshakes queued there behind the chat of the 300 sockets still open,
    past the browsers' patience (bench/signalling_load.py: dozens of handshakes failed after
    10 s). The admission gate bounds handshakes in flight (rooms/admission.py), so this lane
    needs few threads and its queue stays short."""
    global _handshake_threads
    if settings.ROOM_HANDSHAKE_THREADS <= 0:
        return None
    with _lock:
        if _handshake_threads is None:
            _handshake_threads = ThreadPoolExecutor(settings.ROOM_HANDSHAKE_THREADS,
                                                    thread_name_prefix="room-handshake")
        return _handshake_threads


def db(function: Callable[..., Any], executor: ThreadPoolExecutor | None = None) -> Callable[..., Any]:
    """Run `function` in the thread pool. Not thread-sensitive: rooms are independent, so
    one room's database call need not wait behind another's. The connection goes back to
    the pool (settings: DATABASES OPTIONS "pool") inside the call's own context: the
    cleanup channels does after the call runs outside that context and, with a pool, can
    miss it, leaving the connection checked out for good (tests/rooms/test_presence.py).
    `executor`: other threads than the event loop's (`handshake_threads`)."""

    @functools.wraps(function)
    def closing(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return database_sync_to_async(closing, thread_sensitive=False, executor=executor)
