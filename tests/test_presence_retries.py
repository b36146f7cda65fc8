"""Presence changes that could not be written or announced: retried, or handed to another process's reaper.

The Redis tests start a private `redis-server`; the database is an announcer
that fails while it is "down".
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from realtime import presence
from realtime.presence import Check, Presence
from realtime.presence_stamps import process_key, user_key
from tests.live import RedisServer
from tests.presence_trackers import Database, running, tracking
from tests.tcp_proxy import proxying

pytestmark = pytest.mark.timeout(60)


async def test_announcements_that_failed_are_made_at_the_next_heartbeat_as_things_then_stand() -> None:
    database = Database(up=False)
    announced = database.announced
    tracker = Presence(None, database)
    await tracker.start()
    try:
        stays, leaves, returns = (uuid.uuid4().hex for _ in range(3))
        for user in (stays, leaves, returns):
            await tracker.connected(user)
        await tracker.disconnected(leaves)
        await tracker.disconnected(returns)
        await tracker.connected(returns)
        assert announced == [] and tracker.unsure == {stays, leaves, returns}

        database.up = True
        await tracker.heartbeat()
        assert sorted(announced) == sorted([(stays, True), (leaves, False), (returns, True)])
        assert tracker.unsure == set()
        await tracker.heartbeat()
        assert len(announced) == 3  # announced once
    finally:
        await tracker.stop()


@pytest.mark.redis
async def test_users_whose_offline_failed_when_their_process_stops_are_announced_by_another(
    redis_server: RedisServer,
) -> None:
    """Their leave was written, so no reaper would find them: the stopping process hands them to one."""
    database = Database(up=True)
    user = uuid.uuid4().hex
    async with running(redis_server, database) as survivor, tracking(redis_server.url, database) as stopping:
        await stopping.connected(user)
        database.up = False
        await stopping.disconnected(user)
        await stopping.stop()
        database.up = True
        assert await survivor.online([user]) == set()

        await survivor.reap()
        assert database.announced == [(user, True), (user, False)]


@pytest.mark.redis
async def test_a_stop_whose_own_reap_runs_out_of_time_hands_its_users_to_another_process(
    redis_server: RedisServer,
) -> None:
    """Its reap announces the users still connected within STOP_SECONDS; past that a reaper takes them all."""
    survivors = Database(up=True)
    left, connected = uuid.uuid4().hex, uuid.uuid4().hex

    async def announce(user_id: str, online: bool, still: Check) -> None:
        if online:
            return
        if user_id == left:
            raise ConnectionError("the database is down")
        await asyncio.Event().wait()  # the stopping process's read of `connected`'s counterparts never ends

    async with running(redis_server, survivors) as survivor, tracking(redis_server.url, announce) as stopping:
        for user in (left, connected):
            await stopping.connected(user)
        await stopping.disconnected(left)
        await stopping.stop()
        await survivor.reap()
        assert sorted(survivors.announced) == sorted([(left, False), (connected, False)])
        assert await survivor.online([left, connected]) == set()


async def test_an_announcement_queued_behind_a_hung_one_gives_up_in_its_own_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A tab closed and reopened while the database hangs: its socket waits ANNOUNCE_SECONDS, not one per turn."""
    monkeypatch.setattr(presence, "ANNOUNCE_SECONDS", 1.0)
    reading = asyncio.Event()

    async def hung(user_id: str, online: bool, still: Check) -> None:
        reading.set()
        await asyncio.Event().wait()  # the read of whom to tell never comes back

    tracker = Presence(None, hung)
    user = uuid.uuid4().hex
    opening = asyncio.create_task(tracker.connected(user))
    await reading.wait()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await tracker.disconnected(user)  # the first is still announcing; this one waits its turn
    took = loop.time() - started
    await opening
    assert took < 1.5, took  # 2 s when the wait for the turn came on top of its own second
    assert tracker.unsure == {user}  # for the next heartbeat to announce as things then stand


@pytest.mark.redis
async def test_a_leave_while_its_process_stops_is_announced_by_another(redis_server: RedisServer) -> None:
    """The last socket closes while the stop waits for its tasks: with no user left, the stop runs no own reap."""
    database = Database(up=True)
    user = uuid.uuid4().hex
    async with running(redis_server, database) as survivor, tracking(redis_server.url, database) as stopping:
        await stopping.connected(user)
        stopped = asyncio.create_task(stopping.stop())
        await asyncio.sleep(0)  # the stop is under way, waiting for its tasks
        await stopping.disconnected(user)
        await stopped
        await survivor.reap()
        assert database.announced == [(user, True), (user, False)]


@pytest.mark.redis
async def test_a_leave_whose_write_a_stop_cuts_short_is_announced_by_another(redis_server: RedisServer) -> None:
    """Redis applied the leave but its reply never came: the stop's own reap cannot find the user."""
    database = Database(up=True)
    user = uuid.uuid4().hex
    async with running(redis_server, database) as survivor, proxying("127.0.0.1", redis_server.port) as proxy:
        async with tracking(f"redis://127.0.0.1:{proxy.port}/0", database) as stopping:
            await stopping.connected(user)
            held = proxy.hold_reply(user_key(user).encode())
            leaving = asyncio.create_task(stopping.disconnected(user))
            await asyncio.wait_for(held.seen.wait(), 5)
            assert survivor.redis is not None
            while await survivor.redis.zscore(user_key(user), stopping.process_id) is not None:
                await asyncio.sleep(0.01)  # applied; the reply waits at the proxy
            await stopping.stop()
            await asyncio.wait_for(leaving, 1)  # the closing socket is not left waiting for ever
        await survivor.reap()
        assert database.announced == [(user, True), (user, False)]


@pytest.mark.redis
async def test_a_leave_queued_behind_a_heartbeat_when_its_process_stops_is_announced_by_another(
    redis_server: RedisServer,
) -> None:
    """Never written, and with no user left here the stop has no own reap to run."""
    database = Database(up=True)
    user = uuid.uuid4().hex
    async with running(redis_server, database) as survivor, proxying("127.0.0.1", redis_server.port) as proxy:
        async with tracking(f"redis://127.0.0.1:{proxy.port}/0", database) as stopping:
            await stopping.connected(user)
            held = proxy.hold_reply(b"TIME")  # the heartbeat's first command
            beating = asyncio.create_task(stopping.heartbeat())
            await asyncio.wait_for(held.seen.wait(), 5)
            leaving = asyncio.create_task(stopping.disconnected(user))
            await asyncio.sleep(0)  # queued behind the heartbeat
            await stopping.stop()
            await asyncio.wait_for(leaving, 1)
            beating.cancel()  # as the stop cancels its own heartbeats
        await survivor.reap()
        assert database.announced == [(user, True), (user, False)]


@pytest.mark.redis
async def test_a_stop_during_a_heartbeat_s_announcements_hands_their_users_to_another_process(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat wrote the unsure user's leave again and was announcing it on a hung database."""
    monkeypatch.setattr(presence, "HEARTBEAT_EVERY", 0.2)
    survivors = Database(up=True)
    user = uuid.uuid4().hex
    announcing = asyncio.Event()

    async def hangs_once_down(user_id: str, online: bool, still: Check) -> None:
        if not online:
            announcing.set()
            await asyncio.Event().wait()  # the read of whom to tell never comes back

    async with running(redis_server, survivors) as survivor, tracking(redis_server.url, hangs_once_down) as stopping:
        await stopping.connected(user)
        await stopping.disconnected(user)  # its announcement hangs for ANNOUNCE_SECONDS: unsure
        assert stopping.unsure == {user}
        announcing.clear()
        await asyncio.wait_for(announcing.wait(), 5)  # a heartbeat announces it again, and hangs too
        await stopping.stop()
        await survivor.reap()
        assert survivors.announced == [(user, False)]


@pytest.mark.redis
async def test_a_process_s_own_key_outlives_the_retries_of_a_failed_reap_but_not_for_good(
    redis_server: RedisServer,
) -> None:
    """Its reaper deletes it; a reap that failed is retried once its lock expires, and must still find the
    users; when no process is left to reap, the key must not stay in Redis for good."""
    retries = 10 * (presence.REAP_LOCK_SECONDS + presence.REAP_EVERY)
    async with running(redis_server, Database(up=True)) as tracker:
        assert tracker.redis is not None
        key = process_key(tracker.process_id)
        await tracker.connected(uuid.uuid4().hex)
        assert retries < await tracker.redis.ttl(key) <= presence.PROCESS_KEY_SECONDS  # set by the join
        await tracker.redis.persist(key)
        await tracker.heartbeat()
        assert retries < await tracker.redis.ttl(key) <= presence.PROCESS_KEY_SECONDS  # and kept by each heartbeat
