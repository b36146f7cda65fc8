"""Presence trackers on a test's own Redis, each a process's `Presence` started and stopped around a block, and
an announcer that records what they announce."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from realtime.presence import Announce, Check, Presence
from realtime.presence_stamps import presence_client
from tests.live import RedisServer


@asynccontextmanager
async def running(redis_server: RedisServer, announce: Announce) -> AsyncIterator[Presence]:
    """A started Presence on the test's own Redis, stopped and closed after the block."""
    await redis_server.start()
    async with tracking(redis_server.url, announce) as started:
        yield started


@asynccontextmanager
async def tracking(redis_url: str, announce: Announce) -> AsyncIterator[Presence]:
    """One more process's Presence on a Redis that is already up."""
    client = presence_client(redis_url)
    assert client is not None
    started = Presence(client, announce)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()
        await client.aclose()


class Database:
    """Announces into a list while `up`; fails every announcement, as a database down would, while not."""

    def __init__(self, *, up: bool) -> None:
        self.up = up
        self.announced: list[tuple[str, bool]] = []

    async def __call__(self, user_id: str, online: bool, still: Check) -> None:
        if not self.up:
            raise ConnectionError("the database is down")
        if await still():
            self.announced.append((user_id, online))
