"""Presence announcements that reach a socket out of order: the older is dropped.

Two processes can announce one user in the other order than they checked,
a moment apart (realtime/presence.py). Each announcement carries the version
its check stamped; these tests publish announcements with chosen versions
onto a user's channel through Redis, as another process would, and watch
what the user's socket passes on.
"""

from __future__ import annotations

from typing import Any

import pytest

from realtime.actions import presence_event
from realtime.fanout import Fanout
from realtime.outbox import user_channel
from realtime.redis_backend import redis_client
from tests.conftest import REDIS_URL
from tests.live import Server, chat_between, next_frame, open_socket

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


async def redis_now() -> int:
    """Redis's clock in microseconds: what versions are stamped from."""
    redis = redis_client(REDIS_URL, timeout=1.0)
    try:
        seconds, micros = await redis.time()
    finally:
        await redis.aclose()
    return int(seconds) * 1_000_000 + int(micros)


async def announce(to: str, about: str, online: bool, version: tuple[int, int] | None) -> None:
    fanout = Fanout(REDIS_URL)
    await fanout.connect()
    try:
        await fanout.publish(user_channel(to), presence_event(about, online, version))
        await fanout.flushed()
    finally:
        await fanout.disconnect()


async def test_an_announcement_older_than_hello_or_than_one_passed_on_is_dropped(
    server: Server, database_url: str
) -> None:
    owner, renter, _ = await chat_between(server, database_url)
    async with await open_socket(server, owner["token"]) as ws:
        assert (await next_frame(ws, "hello"))["online"] == []  # the renter has no socket
        now = await redis_now()
        before_hello = (now - 60_000_000, 0)
        first, older_than_first, last = (now + 2_000_000, 0), (now + 1_000_000, 5), (now + 3_000_000, 0)
        sent = [(False, before_hello), (True, first), (False, older_than_first), (True, last)]
        for online, version in sent:
            await announce(owner["user_id"], renter["user_id"], online, version)
        frames: list[dict[str, Any]] = [await next_frame(ws, "presence") for _ in range(2)]
    expected = {"type": "presence", "user_id": renter["user_id"], "online": True}
    assert frames == [expected, expected], "a stale announcement was passed on"


async def test_an_announcement_without_a_version_always_passes(server: Server, database_url: str) -> None:
    owner, renter, _ = await chat_between(server, database_url)
    async with await open_socket(server, owner["token"]) as ws:
        await next_frame(ws, "hello")
        await announce(owner["user_id"], renter["user_id"], True, ((await redis_now()) + 5_000_000, 0))
        # A block's "offline" when Redis failed its lookup carries none (realtime/actions.py, hide_presence).
        await announce(owner["user_id"], renter["user_id"], False, None)
        assert [(await next_frame(ws, "presence"))["online"] for _ in range(2)] == [True, False]
