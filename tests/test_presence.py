"""Presence: bursts of sockets opening or closing at once, and a user closing a tab and at once opening another.

The Redis tests start a private `redis-server`, so they can count that
server's clients; the machine's shared Redis is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection

from realtime.presence import MAX_BATCH, TTL_SECONDS, Check, Presence, Version
from realtime.presence_stamps import MAX_REDIS_CONNECTIONS, REDIS_TIMEOUT_SECONDS
from tests.live import RedisServer, Server, chat_between, next_frame, open_socket, send_frame
from tests.presence_trackers import Database, running, tracking

BURST = 1000
REOPENINGS = 20
TABS = 3  # each closing and reopening on its own, so the user goes offline and online at any moment

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def presence(redis_server: RedisServer) -> AsyncIterator[tuple[Presence, list[tuple[str, bool]]]]:
    database = Database(up=True)
    async with running(redis_server, database) as started:
        yield started, database.announced


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
async def test_every_user_of_a_burst_closing_on_a_busy_process_is_announced_offline(
    redis_server: RedisServer,
) -> None:
    """Each offline announcement takes the CPU between its steps, as its read of whom to tell and its publish do.

    A proxy restarting closes every socket at once. Checks that each waited for a Redis connection of
    their own ran out of time behind the others' work, and a fifth of the users stayed online here.
    """
    announced: list[tuple[str, bool]] = []

    async def announce(user_id: str, online: bool, still: Check) -> None:
        if await still():
            for _ in range(0 if online else 3):
                await asyncio.sleep(0)
                time.sleep(0.0005)
            announced.append((user_id, online))

    users = [uuid.uuid4().hex for _ in range(2 * BURST)]
    async with running(redis_server, announce) as tracker:
        await asyncio.gather(*(tracker.connected(user) for user in users))
        await asyncio.gather(*(tracker.disconnected(user) for user in users))
    assert sorted(user for user, online in announced if not online) == sorted(users)


@pytest.mark.redis
async def test_a_burst_of_joins_while_redis_hangs_gives_up_in_bounded_time_and_presence_recovers(
    redis_server: RedisServer, presence: tuple[Presence, list[tuple[str, bool]]]
) -> None:
    tracker, announced = presence
    redis_server.pause()
    try:
        started = asyncio.get_running_loop().time()
        hung = [uuid.uuid4().hex for _ in range(100)]
        await asyncio.gather(*(tracker.connected(user) for user in hung))
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
    # The next heartbeat writes the hung joins and announces them: nobody stays offline to others.
    await tracker.heartbeat()
    assert sorted(announced[1:]) == sorted((user, True) for user in hung)
    assert await tracker.online(hung) == set(hung)


async def alone_and_shared(first: Presence, second: Presence) -> tuple[str, str]:
    """Two users online: one with a socket on `first` alone, the other on both (announced online once)."""
    alone, shared = uuid.uuid4().hex, uuid.uuid4().hex
    await first.connected(alone)
    await second.connected(shared)
    await first.connected(shared)
    return alone, shared


@pytest.mark.redis
async def test_a_process_reaped_while_alive_writes_its_users_back_and_announces_those_it_alone_holds(
    redis_server: RedisServer,
) -> None:
    """A process whose heartbeats failed for a TTL while another reached Redis is taken for dead and reaped."""
    database = Database(up=True)
    announced = database.announced
    async with running(redis_server, database) as first, tracking(redis_server.url, database) as second:
        alone, shared = await alone_and_shared(first, second)
        await second.reap_process(first.process_id)
        assert announced == [(alone, True), (shared, True), (alone, False)]
        assert await second.online([alone, shared]) == {shared}

        await first.heartbeat()
        assert await second.online([alone, shared]) == {alone, shared}
        assert announced[3:] == [(alone, True)]  # `shared` never went offline for anyone
        await first.heartbeat()
        assert announced[3:] == [(alone, True)]


@pytest.mark.redis
async def test_a_failed_announcement_neither_fails_the_socket_nor_leaves_the_user_online(
    redis_server: RedisServer,
) -> None:
    """Announcing reads the database; when that fails, the user's presence must still be kept right."""

    async def announce(user_id: str, online: bool, still: Check) -> None:
        raise ConnectionError("the database is down")

    user = uuid.uuid4().hex
    async with running(redis_server, announce) as tracker:
        await tracker.connected(user)
        assert await tracker.online([user]) == {user}
        await tracker.disconnected(user)
        assert await tracker.online([user]) == set()
        assert user not in tracker.local


@pytest.mark.redis
async def test_a_leave_while_redis_is_unreachable_is_written_and_announced_at_the_next_heartbeat(
    redis_server: RedisServer, presence: tuple[Presence, list[tuple[str, bool]]]
) -> None:
    """Else the user's entry outlives them and counterparts' open tabs show them online until they reconnect."""
    tracker, announced = presence
    user = uuid.uuid4().hex
    await tracker.connected(user)
    redis_server.pause()
    try:
        await tracker.disconnected(user)  # its write times out
    finally:
        redis_server.resume()
    assert announced == [(user, True)] and tracker.unsure == {user}

    await tracker.heartbeat()
    assert announced == [(user, True), (user, False)]
    assert await tracker.online([user]) == set()
    assert tracker.unsure == set()


class SlowOffline:
    """Announces into a list; the read of an "offline" announcement lasts until the test ends it."""

    def __init__(self) -> None:
        self.published: list[bool] = []
        self.reading = asyncio.Event()  # an offline announcement is in its read
        self.read_done = asyncio.Event()

    async def __call__(self, user_id: str, online: bool, still: Check) -> None:
        if not online:
            self.reading.set()
            await self.read_done.wait()
        if await still():
            self.published.append(online)


class CheckedFirst(SlowOffline):
    """As `announce_presence` does: the check (which gives the version) first, then the read of whom to tell."""

    async def __call__(self, user_id: str, online: bool, still: Check) -> None:
        version = await still()
        if not online:
            self.reading.set()
            await self.read_done.wait()
        if version is not None:
            self.published.append(online)


async def test_an_offline_whose_read_outlasts_the_users_return_is_published_before_the_online() -> None:
    """One process announces one user's changes in turn: the return's online waits for the offline."""
    announcer = CheckedFirst()
    tracker = Presence(None, announcer)
    user = uuid.uuid4().hex
    await tracker.connected(user)
    leaving = asyncio.create_task(tracker.disconnected(user))
    await announcer.reading.wait()
    returning = asyncio.create_task(tracker.connected(user))
    await asyncio.sleep(0.1)  # time enough for the return's announcement, were it not waiting its turn
    announcer.read_done.set()
    await asyncio.gather(leaving, returning)
    # Counterparts last heard that the user is online, as they are (out of turn: True, True, False).
    assert announcer.published == [True, False, True]
    assert tracker._turns.idle()  # nothing kept for a user with nothing to announce


@pytest.mark.redis
async def test_a_stale_offline_from_one_process_is_dropped_when_the_user_is_back_on_another(
    redis_server: RedisServer,
) -> None:
    announcer = SlowOffline()
    user = uuid.uuid4().hex
    async with running(redis_server, announcer) as first, tracking(redis_server.url, announcer) as second:
        await first.connected(user)
        leaving = asyncio.create_task(first.disconnected(user))
        await announcer.reading.wait()
        await second.connected(user)
        announcer.read_done.set()
        await leaving
        assert announcer.published == [True, True]
        assert await first.online([user]) == {user}


@pytest.mark.redis
async def test_versions_follow_the_order_of_checks_and_lookups_across_processes(redis_server: RedisServer) -> None:
    stamped: list[Version | None] = []

    async def announce(user_id: str, online: bool, still: Check) -> None:
        stamped.append(await still())

    user = uuid.uuid4().hex
    async with running(redis_server, announce) as first, tracking(redis_server.url, announce) as second:
        await first.connected(user)
        online, looked = await second.snapshot([user])
        await first.disconnected(user)
        await second.connected(user)
    assert online == {user} and looked is not None and None not in stamped
    came, went, came_back = stamped[:3]  # then stopping `second` announces the user gone
    assert came < looked < went < came_back  # type: ignore[operator]


async def presence_frames(ws: ClientConnection, until: str, quiet: float = 1.0) -> list[bool]:
    """The `online` of every presence frame up to the message `until`, and of any that come within `quiet` after."""
    seen: list[bool] = []
    while (frame := await next_frame(ws))["type"] != "message" or frame["message"]["message"] != until:
        if frame["type"] == "presence":
            seen.append(frame["online"])
    with contextlib.suppress(TimeoutError):
        while True:
            frame = await next_frame(ws, timeout=quiet)
            if frame["type"] == "presence":
                seen.append(frame["online"])
    return seen


async def test_a_user_closing_and_reopening_a_tab_quickly_ends_online_for_their_counterpart(
    server: Server, database_url: str
) -> None:
    """Through a real server; the race itself needs a read slower than a reconnect, which the tests above cause."""
    owner, renter, chat_id = await chat_between(server, database_url)

    async def reopen() -> None:
        for _ in range(REOPENINGS):
            async with await open_socket(server, renter["token"]) as tab:
                await next_frame(tab, "hello")

    async with await open_socket(server, owner["token"]) as watcher:
        await next_frame(watcher, "hello")
        await asyncio.gather(*(reopen() for _ in range(TABS)))
        async with await open_socket(server, renter["token"]) as tab:
            await next_frame(tab, "hello")
            await tab.send(send_frame(chat_id, "still here"))
            seen = await presence_frames(watcher, until="still here")
            assert seen[-1] is True, seen
            async with await open_socket(server, owner["token"]) as fresh:
                assert (await next_frame(fresh, "hello"))["online"] == [renter["user_id"]]


@pytest.mark.redis
async def test_a_process_whose_entries_expired_before_any_reap_announces_its_users_online_again(
    redis_server: RedisServer,
) -> None:
    """Its heartbeats failed for a TTL, and before a reaper came a user's last socket elsewhere closed."""
    database = Database(up=True)
    announced = database.announced
    async with running(redis_server, database) as first, tracking(redis_server.url, database) as second:
        alone, shared = await alone_and_shared(first, second)
        async with Redis.from_url(redis_server.url) as redis:  # the state those failed heartbeats leave
            for user_id in (alone, shared):
                await redis.zadd(f"presence:u:{user_id}", {first.process_id: second.clock.now() - 1})
        await second.disconnected(shared)
        assert announced == [(alone, True), (shared, True), (shared, False)]
        assert await second.online([alone, shared]) == set()

        await first.heartbeat()
        assert await second.online([alone, shared]) == {alone, shared}
        # `alone` was told offline to nobody: its counterparts' sockets drop the repeat.
        assert sorted(announced[3:]) == sorted([(alone, True), (shared, True)])
        await first.heartbeat()
        assert len(announced) == 5


@pytest.mark.redis
async def test_a_lookup_counts_no_entry_past_its_expiry_before_any_reaper_runs(redis_server: RedisServer) -> None:
    """A crashed process's users are offline from its entry's expiry on, not only once it is reaped."""
    user, database = uuid.uuid4().hex, Database(up=True)
    async with running(redis_server, database) as silent, tracking(redis_server.url, database) as other:
        await silent.connected(user)
        assert await other.online([user]) == {user}
        other.clock.offset += TTL_SECONDS + 1  # a TTL on, by Redis's clock, and no heartbeat since
        assert await other.online([user]) == set()
