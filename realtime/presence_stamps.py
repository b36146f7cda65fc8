"""Presence's Redis: its connections, keys and clock, and reads stamped with a version.

An announcement's check (whether what it announces still holds,
realtime/presence.py) stamps it with a `Version`: Redis's clock, then a
counter all processes share for ties (which a restarted Redis starts again,
and the clock outruns). Two processes announcing one user can publish
in the other order than they checked, a moment apart; a socket keeps, per
user, the newest version it passed on and drops older ones. Each stamp is
taken before its read, in the read's pipeline (Redis runs one connection's
commands in order): a change comes before the stamp of the announcement it
causes, so an announcement with a higher version read the later state. A
socket's hello takes a version (`version`) before it reads the user's chats,
and then reads who of them is online: it drops announcements no newer than
that floor, whose changes its reads saw, and one stamped after it can be
newer and still say what `hello.online` said, which the socket drops as a
repeat (realtime/delivery.py). A block committed after hello's read of the
chats is thus announced with a newer version and reaches the socket. This
takes Redis's clock not to step back.

`stamped_read` reads who of some users is online under one version (a
socket's hello, a block's offline); `Checks` runs announcements' checks,
each with a version of its own, whatever has queued in one pipeline.

`presence_client` connects to the broadcast backend's Redis. Expiry scores
are on Redis's clock too (`RedisClock`): every process writes them and every
other compares them with its "now", and hosts' clocks can differ by more
than a TTL.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlparse

from redis.asyncio import Redis

from realtime.redis_backend import redis_client

VERSION_KEY = "presence:version"
PROCESSES_KEY = "presence:procs"  # each process, scored by its expiry
REDIS_TIMEOUT_SECONDS = 1.0
# Lookups (a socket's hello), announcements' checks (a batch at a time) and the heartbeat share this many
# connections; callers past it wait.
MAX_REDIS_CONNECTIONS = 16
CONNECTION_WAIT_SECONDS = 2.0
# (Redis's clock in microseconds, then the shared counter); compared as tuples.
Version = tuple[int, int]
# Checks per pipeline when thousands queue at once (every socket of a proxy closing).
MAX_CHECKS = 500


def presence_client(broadcast_url: str) -> Redis | None:
    """Presence lives in the broadcast backend's Redis; `memory://` keeps it in the process."""
    if urlparse(broadcast_url).scheme not in ("redis", "rediss"):
        return None
    return redis_client(
        broadcast_url, timeout=REDIS_TIMEOUT_SECONDS, connections=MAX_REDIS_CONNECTIONS, wait=CONNECTION_WAIT_SECONDS
    )


class RedisClock:
    """Redis's clock, read through this host's: the offset between the two, as last seen.

    On the hosts' own clocks, a host a TTL ahead of another took that one's
    live processes for dead (reaping them every REAP_EVERY, its users flapping
    offline and online) and counted their users offline; one behind showed its
    own users offline to the others. The offset is off by at most half a round
    trip, far below a TTL.
    """

    def __init__(self) -> None:
        self.offset = 0.0  # Redis's time minus this host's, in seconds

    def now(self) -> float:
        return time.time() + self.offset

    def saw(self, clock: tuple[int, int]) -> None:
        """Take the offset from a reply to TIME just received."""
        self.offset = int(clock[0]) + int(clock[1]) / 1_000_000 - time.time()


def version(clock: tuple[int, int], tie: int | bytes | None) -> Version:
    """A version from Redis's TIME (seconds, microseconds) and the shared counter (None before its first INCR)."""
    return int(clock[0]) * 1_000_000 + int(clock[1]), int(tie or 0)


def user_key(user_id: str) -> str:
    return f"presence:u:{user_id}"


def process_key(process_id: str) -> str:
    """The users this process holds a socket of, for a reaper once it stops heartbeating."""
    return f"presence:p:{process_id}"


def text(raw: object) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


async def stamped_read(
    redis: Redis, clock: RedisClock, user_ids: list[str], *, announcing: bool
) -> tuple[set[str], Version]:
    """Who of these users is online, and the version stamped just before the read; raises on failure.

    `announcing`: the version is for an announcement made from this read, newer than every one before.
    """
    async with redis.pipeline(transaction=False) as pipe:
        pipe.time()
        if announcing:
            pipe.incr(VERSION_KEY)
        else:
            pipe.get(VERSION_KEY)
        for user_id in user_ids:
            pipe.zcount(user_key(user_id), clock.now(), "+inf")
        now, tie, *counts = await pipe.execute()
    clock.saw(now)
    return {u for u, n in zip(user_ids, counts, strict=True) if n}, version(now, tie)


class Checks:
    """Announcements' checks: whether a user is online, with a version of the check's own.

    Queued and run a batch per round trip. When thousands of sockets close at
    once (a proxy restarting), each check waiting for a connection of its own
    outlasted the pool's wait for thousands of them on a busy process, and
    those users stayed online for their counterparts.
    """

    def __init__(self, redis: Redis, clock: RedisClock) -> None:
        self._redis = redis
        self._clock = clock
        self._queued: list[tuple[str, asyncio.Future[tuple[bool, Version]]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def check(self, user_id: str) -> tuple[bool, Version]:
        """(online, version); raises what the batch's pipeline raised."""
        future: asyncio.Future[tuple[bool, Version]] = asyncio.get_running_loop().create_future()
        self._queued.append((user_id, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._queued:
            batch, self._queued = self._queued[:MAX_CHECKS], self._queued[MAX_CHECKS:]
            try:
                found: list[tuple[bool, Version]] | Exception = await self._stamped([u for u, _ in batch])
            except Exception as exc:
                found = exc
            for k, (_, future) in enumerate(batch):
                if future.done():  # its announcement was cancelled
                    continue
                if isinstance(found, Exception):
                    future.set_exception(found)
                else:
                    future.set_result(found[k])

    async def _stamped(self, user_ids: list[str]) -> list[tuple[bool, Version]]:
        """One pipeline: each user's own clock, counter and count, in that order, so each stamp precedes its read."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.time()
                pipe.incr(VERSION_KEY)
                pipe.zcount(user_key(user_id), self._clock.now(), "+inf")
            replies = await pipe.execute()
        triples = [replies[k : k + 3] for k in range(0, len(replies), 3)]
        if triples:
            self._clock.saw(triples[-1][0])
        return [(bool(count), version(clock, tie)) for clock, tie, count in triples]
