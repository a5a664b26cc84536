"""Background tasks of the engine: kept referenced until done, their failures logged.

The event loop keeps only a weak reference to a task: one started and forgotten may be
collected mid-flight, and its exception surfaces (if ever) as "never retrieved" at exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)

_running: set[asyncio.Task[Any]] = set()


def spawn[T](coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
    """Run `coro` on the running loop, referenced until it ends; an exception is logged at ERROR."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("background task %s failed", task.get_name(), exc_info=error)


def running() -> int:
    """How many background tasks are in flight (for tests and stats)."""
    return len(_running)
