"""A cancelled task stays cancelled when what it waited on under `wait_for` finishes in the same step.

Python 3.11's `wait_for` dropped such a cancel (timeouts.py); `main` puts
3.12's in place on import, and these tests run with it, as the app does.
"""

from __future__ import annotations

import asyncio

import pytest

import main  # noqa: F401  (installs timeouts.wait_for, as serving the app does)
from realtime.redis_backend import redis_client
from tests.live import RedisServer

CANCELS = 200


async def test_a_cancel_in_the_step_the_wait_ends_is_kept() -> None:
    finished = asyncio.get_running_loop().create_future()
    carried_on = asyncio.Event()

    async def waiting() -> None:
        await asyncio.wait_for(finished, 1.0)
        carried_on.set()

    task = asyncio.create_task(waiting())
    await asyncio.sleep(0)  # the task now waits on `finished`
    finished.set_result(None)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not carried_on.is_set()


async def test_wait_for_still_times_out_and_returns() -> None:
    assert await asyncio.wait_for(asyncio.sleep(0, "done"), 1.0) == "done"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.sleep(1), 0.01)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.sleep(1), 0)


@pytest.mark.redis
async def test_a_task_cancelled_during_a_redis_command_ends(redis_server: RedisServer) -> None:
    """redis-py writes each command under `wait_for`: on 3.11 about one such cancel in four was lost."""
    await redis_server.start()
    redis = redis_client(redis_server.url, timeout=1.0)
    carried_on = 0
    try:
        for n in range(CANCELS):

            async def pinging() -> None:
                await redis.ping()
                await asyncio.sleep(5)  # where a lost cancel leaves the task

            task = asyncio.create_task(pinging())
            for _ in range(n % 7):  # cancel at each point of the command's round trip
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.wait([task], timeout=1.0)
            if not task.done():
                carried_on += 1
                task.cancel()
    finally:
        await redis.aclose()
    assert carried_on == 0, f"{carried_on} of {CANCELS} cancelled tasks carried on"
