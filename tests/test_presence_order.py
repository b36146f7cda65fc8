"""Presence announcements that reach a socket out of order: the older is dropped.

Two processes can announce one user in the other order than they checked,
a moment apart (realtime/presence.py). Each announcement carries the version
its check stamped; these tests publish announcements with chosen versions
onto a user's channel through Redis, as another process would, and watch
what the user's socket passes on. A newer one that says what the socket
last told its client is dropped too.
"""

from __future__ import annotations

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
    """Each stale announcement here says the opposite of what the socket last told, so it would show if passed.

    Markers (announcements about made-up users, without a version) show where each part of the sequence ends.
    """
    owner, renter, _ = await chat_between(server, database_url)
    async with await open_socket(server, owner["token"]) as ws:
        assert (await next_frame(ws, "hello"))["online"] == []  # the renter has no socket
        now = await redis_now()
        before_hello, newer, older_than_newer = (now - 60_000_000, 0), (now + 2_000_000, 0), (now + 1_000_000, 5)
        sent = [
            (renter["user_id"], True, before_hello),
            ("marker-1", True, None),
            (renter["user_id"], True, newer),
            (renter["user_id"], False, older_than_newer),
            ("marker-2", True, None),
        ]
        for about, online, version in sent:
            await announce(owner["user_id"], about, online, version)
        frames = [await next_frame(ws, "presence")]
        while frames[-1]["user_id"] != "marker-2":
            frames.append(await next_frame(ws, "presence"))
    told = [(frame["user_id"], frame["online"]) for frame in frames]
    assert told == [("marker-1", True), (renter["user_id"], True), ("marker-2", True)], "a stale one was passed on"


async def test_an_announcement_that_repeats_what_the_socket_told_is_dropped(server: Server, database_url: str) -> None:
    owner, renter, _ = await chat_between(server, database_url)
    async with await open_socket(server, owner["token"]) as ws:
        assert (await next_frame(ws, "hello"))["online"] == []
        now = await redis_now()
        ahead = [(False, 1), (True, 2), (True, 3), (False, 4)]  # seconds after now: each newer than the last
        for online, seconds in ahead:
            await announce(owner["user_id"], renter["user_id"], online, (now + seconds * 1_000_000, 0))
        await announce(owner["user_id"], renter["user_id"], False, None)
        await announce(owner["user_id"], "marker", True, None)
        frames = [await next_frame(ws, "presence")]
        while frames[-1]["user_id"] != "marker":
            frames.append(await next_frame(ws, "presence"))
    assert [frame["online"] for frame in frames[:-1]] == [True, False]


async def test_an_announcement_without_a_version_always_passes(server: Server, database_url: str) -> None:
    owner, renter, _ = await chat_between(server, database_url)
    async with await open_socket(server, owner["token"]) as ws:
        await next_frame(ws, "hello")
        await announce(owner["user_id"], renter["user_id"], True, ((await redis_now()) + 5_000_000, 0))
        # A block's "offline" when Redis failed its lookup carries none (realtime/actions.py, show_presence).
        await announce(owner["user_id"], renter["user_id"], False, None)
        assert [(await next_frame(ws, "presence"))["online"] for _ in range(2)] == [True, False]
