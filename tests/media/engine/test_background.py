"""Background tasks: referenced until they end, a failure logged at ERROR, a cancel not."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from media.engine import background


def test_a_spawned_task_is_kept_until_done_and_its_failure_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        release = asyncio.Event()

        async def fails() -> None:
            await release.wait()
            raise RuntimeError("boom")

        async def waits() -> None:
            await asyncio.Event().wait()

        before = background.running()
        background.spawn(fails(), name="failing job")  # no reference kept by the caller
        cancelled = background.spawn(waits(), name="cancelled job")
        gc.collect()
        assert background.running() == before + 2
        release.set()
        cancelled.cancel()
        async with asyncio.timeout(5):
            while background.running() != before:
                await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR, logger="media.engine.background"):
        asyncio.run(scenario())
    failures = [r for r in caplog.records if r.name == "media.engine.background"]
    assert [r.getMessage() for r in failures] == ["background task failing job failed"]
    assert failures[0].exc_info is not None and str(failures[0].exc_info[1]) == "boom"
