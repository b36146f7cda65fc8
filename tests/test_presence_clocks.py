"""Presence across hosts whose clocks differ: every expiry is on Redis's clock, not on a host's.

The second process here runs with its clock a minute ahead (a `sitecustomize`
that shifts `time.time`, as a host without NTP would), beside one on time.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from realtime.presence import REAP_EVERY, TTL_SECONDS
from tests.conftest import database_for
from tests.live import RedisServer, Server, chat_between, next_frame, open_socket, server_env

pytestmark = [pytest.mark.timeout(90)]

AHEAD_SECONDS = 2 * TTL_SECONDS


def clock_ahead(folder: Path, seconds: float) -> str:
    """A PYTHONPATH entry whose `sitecustomize` puts the process's wall clock `seconds` ahead."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        f"import time\n_host_time = time.time\ntime.time = lambda: _host_time() + {seconds!r}\n"
    )
    return str(folder)


async def test_users_stay_online_between_hosts_whose_clocks_differ(tmp_path: Path, private_redis: RedisServer) -> None:
    """The host ahead counts the other's users online, and its reaper leaves the other process alone."""
    database = database_for(tmp_path)
    env = server_env(database, private_redis.url, tmp_path / "uploads")
    on_time = Server(env).start()
    ahead = Server(env | {"PYTHONPATH": clock_ahead(tmp_path / "ahead", AHEAD_SECONDS)}).start()
    try:
        owner, renter, _ = await chat_between(on_time, database)
        async with await open_socket(on_time, renter["token"]) as renter_ws:
            await next_frame(renter_ws, "hello")
            async with (
                await open_socket(ahead, owner["token"]) as owner_ahead,
                await open_socket(on_time, owner["token"]) as owner_on_time,
            ):
                assert (await next_frame(owner_ahead, "hello"))["online"] == [renter["user_id"]]
                assert (await next_frame(owner_on_time, "hello"))["online"] == [renter["user_id"]]
                # Past the first reap of the process ahead, which took the other one for dead.
                with contextlib.suppress(TimeoutError):
                    told = await next_frame(owner_on_time, "presence", timeout=REAP_EVERY + 3)
                    pytest.fail(f"the renter, still connected, was announced: {told}")
    finally:
        on_time.stop()
        ahead.stop()
