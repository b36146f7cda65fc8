"""`asyncio.wait_for` that never drops a cancellation, as Python 3.12 has it.

On Python 3.11, when a task is cancelled in the loop step in which the
operation it waits on under `wait_for` finishes, `wait_for` returns the
result and the cancellation is lost (CPython gh-86296, fixed in 3.12 by
rebuilding `wait_for` on `asyncio.timeout`). redis-py writes every command
under `wait_for` when a socket timeout is set, as ours are, and asyncmy
connects under it. A task cancelled while a Redis command was in flight then
carried on as if never cancelled: about one cancel in four during a PING in
a loop here. The fan-out's supervisor so survived its cancel, kept probing
Redis, and the app's shutdown waited on it until the test harness gave up.

`keep_cancellations` puts 3.12's `wait_for` in place on 3.11, for every
library at once; `main` calls it on import. Later Pythons are left alone.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

_lossy_wait_for = asyncio.wait_for


async def wait_for(awaitable: Awaitable[T], timeout: float | None) -> T:
    """Python 3.12's `asyncio.wait_for`: the awaitable runs under `asyncio.timeout`, which keeps a cancel."""
    if timeout is not None and timeout <= 0:
        # Cancels what it was given before waiting on it, so no finished wait can meet a cancel.
        return await _lossy_wait_for(awaitable, timeout)
    async with asyncio.timeout(timeout):
        return await awaitable


def keep_cancellations() -> None:
    """Replace `asyncio.wait_for` with `wait_for` where it can drop a cancellation (Python 3.11)."""
    if sys.version_info < (3, 12):
        asyncio.wait_for = wait_for  # type: ignore[assignment]
        asyncio.tasks.wait_for = wait_for  # type: ignore[assignment]
