"""Naming what a slow shutdown waits for.

Every step of the lifespan's shutdown is bounded, yet a test run once saw
the whole of it overrun its 5 s and could not say which task held it up.
`report_if_slow` logs, once the block has run for `seconds`, the stack of
every task still pending, so the next overrun names its cause in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


@asynccontextmanager
async def report_if_slow(what: str, seconds: float) -> AsyncIterator[None]:
    """Run the block; if it is still running after `seconds`, log the stacks of the loop's pending tasks."""
    timer = asyncio.create_task(_report_after(what, seconds), name=f"report if slow: {what}")
    try:
        yield
    finally:
        timer.cancel()
        await asyncio.wait([timer])


async def _report_after(what: str, seconds: float) -> None:
    await asyncio.sleep(seconds)
    current = asyncio.current_task()
    stacks = [awaiting(task) for task in asyncio.all_tasks() if task is not current]
    log.warning("%s is still running after %.1f s; pending tasks:\n%s", what, seconds, "\n".join(stacks))


def awaiting(task: asyncio.Task[Any]) -> str:
    """The task's chain of awaits, outermost first, down to what it waits on.

    `Task.print_stack` shows only the task's own coroutine frame; where a task is stuck is usually
    several awaits further in.
    """
    lines = [f"{task.get_name()}:"]
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is None:  # a future: nothing further in to show
            break
        lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
        if awaited is not None and not hasattr(awaited, "cr_frame"):
            awaited = _generator_of(frame) or awaited
    return "\n".join(lines)


def _generator_of(frame: FrameType) -> Any:
    """The async generator an `asynccontextmanager`'s enter or exit is stepping (the app's lifespan is one).

    What such a frame awaits is the generator's `asend`/`athrow`, which shows no frame of its own.
    """
    manager = frame.f_locals.get("self")
    generator = getattr(manager, "gen", None)
    return generator if getattr(generator, "ag_frame", None) is not None else None
