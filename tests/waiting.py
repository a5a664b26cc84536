"""Waiting on conditions in tests, instead of sleeping a guessed time before asserting.

- `wait_until(predicate, timeout=…)` polls until the predicate holds and returns its value;
  it fails with `what` (a string, or a function called at failure time, e.g. to add a log
  tail) when `timeout` passes first.
- `stays_true_for(predicate, duration=…)` checks that something does NOT happen ("nothing
  else arrived") over a bounded window: it polls for `duration` and fails as soon as the
  predicate is false. The sleep between polls is the mechanism of the window.
- `stays_true_until(predicate, until=…)` is the same check over a window closed by a
  positive sync point rather than a duration: e.g. "no video packet while a second of audio
  arrived", or "nothing else came before the answer to a marker message". Prefer it when
  the system offers such a point: the window then proves the path was live all along.

The async variants (`…_async`) also take predicates that return an awaitable (e.g. an
aiortc `getStats()` or a Redis read), and yield to the event loop between polls so the
code under test keeps running.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

type Describe = str | Callable[[], str]


def _describe(what: Describe) -> str:
    return what() if callable(what) else what


def wait_until[T](predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
                  what: Describe = "the condition") -> T:
    """The predicate's first truthy value, polled every `interval` for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {_describe(what)}")
        time.sleep(interval)


def stays_true_for(predicate: Callable[[], object], duration: float, interval: float = 0.05,
                   what: Describe = "the condition") -> None:
    """Fail as soon as the predicate is false within the next `duration` s (checked at both ends)."""
    deadline = time.monotonic() + duration
    while True:
        if not predicate():
            raise AssertionError(f"no longer true within {duration} s: {_describe(what)}")
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def stays_true_until(predicate: Callable[[], object], until: Callable[[], object], timeout: float = 10.0,
                     interval: float = 0.05, what: Describe = "the condition") -> None:
    """Fail as soon as the predicate is false before `until` holds (checked after it too);
    fail if `until` does not hold within `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        done = until()
        if not predicate():
            raise AssertionError(f"no longer true before the sync point: {_describe(what)}")
        if done:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for the sync point while checking "
                                 f"{_describe(what)}")
        time.sleep(interval)


async def _value[T](predicate: Callable[[], T | Awaitable[T]]) -> T:
    value = predicate()
    if inspect.isawaitable(value):
        value = await value
    return value  # type: ignore[return-value]  # awaited above when it was an awaitable


async def wait_until_async[T](predicate: Callable[[], T | Awaitable[T]], timeout: float = 10.0,
                              interval: float = 0.05, what: Describe = "the condition") -> T:
    """`wait_until` on the running event loop; the predicate may be a coroutine function."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await _value(predicate)
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {_describe(what)}")
        await asyncio.sleep(interval)


async def stays_true_for_async(predicate: Callable[[], object | Awaitable[object]], duration: float,
                               interval: float = 0.05, what: Describe = "the condition") -> None:
    """`stays_true_for` on the running event loop; the predicate may be a coroutine function."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    while True:
        if not await _value(predicate):
            raise AssertionError(f"no longer true within {duration} s: {_describe(what)}")
        if loop.time() >= deadline:
            return
        await asyncio.sleep(interval)


async def stays_true_until_async(predicate: Callable[[], object | Awaitable[object]],
                                 until: Callable[[], object | Awaitable[object]], timeout: float = 10.0,
                                 interval: float = 0.05, what: Describe = "the condition") -> None:
    """`stays_true_until` on the running event loop; both may be coroutine functions."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        done = await _value(until)
        if not await _value(predicate):
            raise AssertionError(f"no longer true before the sync point: {_describe(what)}")
        if done:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for the sync point while checking "
                                 f"{_describe(what)}")
        await asyncio.sleep(interval)
