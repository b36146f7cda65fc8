"""Presence in Redis under bursts: many sockets opening or closing at once, as when a proxy restarts.

Each test starts a private `redis-server`, so it can count that server's
clients; the machine's shared Redis is never touched.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from realtime.presence import (
    MAX_BATCH,
    MAX_REDIS_CONNECTIONS,
    REDIS_TIMEOUT_SECONDS,
    Announce,
    Presence,
    presence_client,
)
from tests.live import RedisServer

BURST = 1000

pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def running(redis_server: RedisServer, announce: Announce) -> AsyncIterator[Presence]:
    """A started Presence on the test's own Redis, stopped and closed after the block."""
    await redis_server.start()
    client = presence_client(redis_server.url)
    assert client is not None
    started = Presence(client, announce)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()
        await client.aclose()


@pytest.fixture
async def presence(redis_server: RedisServer) -> AsyncIterator[tuple[Presence, list[tuple[str, bool]]]]:
    announced: list[tuple[str, bool]] = []

    async def announce(user_id: str, online: bool) -> None:
        announced.append((user_id, online))

    async with running(redis_server, announce) as started:
        yield started, announced


async def redis_info(url: str, section: str) -> dict[str, Any]:
    async with Redis.from_url(url) as probe:
        return await probe.info(section)  # type: ignore[no-any-return]


async def redis_clients(url: str) -> int:
    return int((await redis_info(url, "clients"))["connected_clients"]) - 1  # not counting the probe


async def transactions(url: str) -> int:
    """How many MULTI/EXEC transactions the server has run so far."""
    return int((await redis_info(url, "commandstats")).get("cmdstat_exec", {}).get("calls", 0))


@pytest.mark.redis
async def test_a_burst_of_users_joining_and_leaving_is_recorded_and_announced_over_few_connections(
    redis_server: RedisServer, presence: tuple[Presence, list[tuple[str, bool]]]
) -> None:
    tracker, announced = presence
    users = [uuid.uuid4().hex for _ in range(BURST)]
    before = await transactions(redis_server.url)

    await asyncio.gather(*(tracker.connected(user) for user in users))
    assert sorted(user for user, online in announced if online) == sorted(users)
    assert await tracker.online(users) == set(users)
    assert await redis_clients(redis_server.url) <= MAX_REDIS_CONNECTIONS

    await asyncio.gather(*(tracker.disconnected(user) for user in users))
    # Every user went offline and was announced so: none is left online for others to see.
    assert sorted(user for user, online in announced if not online) == sorted(users)
    assert await tracker.online(users) == set()
    assert await redis_clients(redis_server.url) <= MAX_REDIS_CONNECTIONS
    # Written a batch at a time, not a transaction per user: a few round trips for the whole burst.
    assert await transactions(redis_server.url) - before <= 2 * (BURST // MAX_BATCH + 2)


@pytest.mark.redis
async def test_a_burst_of_joins_while_redis_hangs_gives_up_in_bounded_time_and_presence_recovers(
    redis_server: RedisServer, presence: tuple[Presence, list[tuple[str, bool]]]
) -> None:
    tracker, announced = presence
    redis_server.pause()
    try:
        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(tracker.connected(uuid.uuid4().hex) for _ in range(100)))
        took = asyncio.get_running_loop().time() - started
    finally:
        redis_server.resume()
    # The burst's batch gives up after Redis's timeout, and every join with it.
    assert took < 2 * REDIS_TIMEOUT_SECONDS + 1.0
    assert announced == []

    user = uuid.uuid4().hex
    await tracker.connected(user)
    assert announced == [(user, True)]
    assert await tracker.online([user]) == {user}


@pytest.mark.redis
async def test_a_failed_announcement_neither_fails_the_socket_nor_leaves_the_user_online(
    redis_server: RedisServer,
) -> None:
    """Announcing reads the database; when that fails, the user's presence must still be kept right."""

    async def announce(user_id: str, online: bool) -> None:
        raise ConnectionError("the database is down")

    user = uuid.uuid4().hex
    async with running(redis_server, announce) as tracker:
        await tracker.connected(user)
        assert await tracker.online([user]) == {user}
        await tracker.disconnected(user)
        assert await tracker.online([user]) == set()
        assert user not in tracker.local
