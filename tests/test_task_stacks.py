"""A slow block's report names where every pending task waits, however deep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from task_stacks import report_if_slow


async def parked_deep_inside(released: asyncio.Event) -> None:
    await released.wait()


async def parked(released: asyncio.Event) -> None:
    await parked_deep_inside(released)


async def test_a_slow_block_logs_each_pending_task_down_to_its_innermost_await(
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = asyncio.Event()
    task = asyncio.create_task(parked(released), name="the parked task")
    with caplog.at_level(logging.WARNING, logger="task_stacks"):
        async with report_if_slow("closing up", 0.05):
            await asyncio.sleep(0.2)
    released.set()
    await task
    [record] = caplog.records
    assert "closing up is still running" in record.getMessage()
    report = record.getMessage().split("the parked task:", 1)[1]
    assert report.index("in parked") < report.index("in parked_deep_inside") < report.index("in wait")


async def test_a_quick_block_logs_nothing_and_leaves_no_task(caplog: pytest.LogCaptureFixture) -> None:
    before = asyncio.all_tasks()
    with caplog.at_level(logging.WARNING, logger="task_stacks"):
        async with report_if_slow("closing up", 0.05):
            await asyncio.sleep(0)
        await asyncio.sleep(0.1)
    assert caplog.records == []
    assert asyncio.all_tasks() == before


async def test_the_report_goes_on_into_a_context_managers_generator(caplog: pytest.LogCaptureFixture) -> None:
    released = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        try:
            yield
        finally:
            await parked(released)

    async def serve() -> None:
        async with lifespan():
            pass

    task = asyncio.create_task(serve(), name="the app")
    with caplog.at_level(logging.WARNING, logger="task_stacks"):
        async with report_if_slow("shutdown", 0.05):
            await asyncio.sleep(0.2)
    released.set()
    await task
    report = caplog.records[0].getMessage().split("the app:", 1)[1]
    assert report.index("in serve") < report.index("in lifespan") < report.index("in parked_deep_inside")
