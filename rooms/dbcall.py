"""Database calls from the event loop: one helper for the consumer, the heartbeat and the actions."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from django.db import close_old_connections


def db(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run `function` in the thread pool. Not thread-sensitive: rooms are independent, so
    one room's database call need not wait behind another's. The connection goes back to
    the pool (settings: DATABASES OPTIONS "pool") inside the call's own context: the
    cleanup channels does after the call runs outside that context and, with a pool, can
    miss it, leaving the connection checked out for good (tests/rooms/test_presence.py)."""

    @functools.wraps(function)
    def closing(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return database_sync_to_async(closing, thread_sensitive=False)
