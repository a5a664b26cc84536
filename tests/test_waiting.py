"""The waiting helpers themselves: they return, fail and describe as the tests rely on."""

from __future__ import annotations

import asyncio

import pytest

from tests.waiting import (
    stays_true_for,
    stays_true_for_async,
    stays_true_until,
    stays_true_until_async,
    wait_until,
    wait_until_async,
)


def countdown(true_after: int):
    """A predicate false for its first `true_after` calls, then its call count."""
    calls = []

    def predicate() -> int:
        calls.append(1)
        return len(calls) if len(calls) > true_after else 0

    return predicate, calls


def test_wait_until_returns_the_first_truthy_value() -> None:
    predicate, _ = countdown(3)
    assert wait_until(predicate, timeout=5, interval=0.001) == 4


def test_wait_until_fails_with_a_description_made_at_failure_time() -> None:
    log = ["started"]

    def stuck() -> bool:
        log.append("stuck")
        return False

    # The description reads the log when the wait fails, not when the wait begins.
    with pytest.raises(AssertionError, match=r"after 0.05 s waiting for the worker \(last line: stuck\)"):
        wait_until(stuck, timeout=0.05, interval=0.01, what=lambda: f"the worker (last line: {log[-1]})")


def test_stays_true_for_fails_as_soon_as_the_predicate_turns_false() -> None:
    calls = []

    def until_third() -> bool:
        calls.append(1)
        return len(calls) < 3

    with pytest.raises(AssertionError, match="no longer true within 60 s: quiet"):
        stays_true_for(until_third, duration=60, interval=0.001, what="quiet")
    assert len(calls) == 3  # failed at once, without waiting out the window


def test_stays_true_for_checks_the_whole_window() -> None:
    predicate, calls = countdown(0)
    stays_true_for(predicate, duration=0.05, interval=0.01)
    assert len(calls) >= 3  # at the start, along the window and at its end


def test_stays_true_until_checks_up_to_and_at_the_sync_point() -> None:
    sync, _ = countdown(3)
    checks = []
    stays_true_until(lambda: checks.append(1) or True, until=sync, timeout=5, interval=0.001)
    assert len(checks) == 4  # before the sync point, and once it is reached
    with pytest.raises(AssertionError, match="before the sync point: quiet"):
        stays_true_until(lambda: False, until=lambda: True, what="quiet")  # false at the sync point
    with pytest.raises(AssertionError, match="waiting for the sync point while checking quiet"):
        stays_true_until(lambda: True, until=lambda: False, timeout=0.05, interval=0.01, what="quiet")


def test_async_variants_take_coroutine_predicates() -> None:
    async def body() -> None:
        predicate, _ = countdown(2)

        async def later() -> int:
            await asyncio.sleep(0)  # a real coroutine predicate: it yields to the loop once
            return predicate()

        assert await wait_until_async(later, timeout=5, interval=0.001) == 3
        with pytest.raises(AssertionError, match="timed out after 0.05 s waiting for nothing"):
            await wait_until_async(lambda: False, timeout=0.05, interval=0.01, what="nothing")
        await stays_true_for_async(later, duration=0.03, interval=0.01)
        flips = iter([True, True, False])
        with pytest.raises(AssertionError, match="no longer true"):
            await stays_true_for_async(lambda: next(flips), duration=60, interval=0.001)
        sync, _ = countdown(2)
        await stays_true_until_async(later, until=sync, timeout=5, interval=0.001)
        with pytest.raises(AssertionError, match="before the sync point"):
            await stays_true_until_async(lambda: asyncio.sleep(0, False), until=sync, timeout=5)

    asyncio.run(asyncio.wait_for(body(), 5))
