"""Who is online, across every server process.

A user is online while at least one socket of theirs is open on any process.
Each process counts its own sockets per user. With Redis, each user has a
sorted set `presence:u:<user>` of the processes holding a socket, scored by
an expiry on Redis's clock that the process's heartbeat pushes forward; a
process that dies stops refreshing, its entries stop counting, and the first
surviving process to notice reaps them and announces who went offline. With
`memory://` there is one process and the counts are the truth.

The rules below are explained, with the failures that led to each, in
docs/realtime.md (Presence) and realtime/presence_stamps.py (versions):

- one user's announcements run one at a time here, in order, each first
  checking that its change still holds, then reading whom to tell, then
  publishing, all within `ANNOUNCE_SECONDS`;
- one task writes this process's joins, leaves and heartbeats, in order;
- a change that could not be written or announced leaves its user "unsure",
  for the next heartbeat to write and announce as things then stand, and a
  stopping process hands its unsure users, expired, to another's reaper;
- a process whose heartbeats failed for a TTL counts as gone, and its next
  heartbeat announces again the users whose entries had expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from realtime.outage_log import OutageLog
from realtime.presence_stamps import (
    PROCESSES_KEY,
    Checks,
    RedisClock,
    Version,
    process_key,
    stamped_read,
    text,
    user_key,
)
from realtime.presence_turns import Turns
from realtime.redis_backend import describe

log = logging.getLogger("homer.presence")
# During an outage: every hello's lookup (Redis), every socket's join and leave (the database).
lookups_failed, announcing_failed = OutageLog(log), OutageLog(log)

# A dead process's users show as online for at most about TTL + REAP_EVERY seconds.
TTL_SECONDS = 30.0
HEARTBEAT_EVERY = TTL_SECONDS / 3
REAP_EVERY = TTL_SECONDS / 2
REAP_LOCK_SECONDS = int(TTL_SECONDS * 2)  # one process reaps each dead one; a reap that failed is retried after
# A user's keys outlive every process's entry in them. A process's own key outlives the retries of a reap
# that failed (each held off by the reap's lock), and goes when no process is left to reap it.
USER_KEY_SECONDS = int(TTL_SECONDS * 3)
PROCESS_KEY_SECONDS = 24 * 3600
# Sockets open and close in bursts (a proxy restarting drops them all at once). Joins and leaves are
# written by one task, whatever has queued in one transaction of at most MAX_BATCH of them: a burst
# of thousands is a few round trips. Each used to be a transaction on a connection of its own, and
# closing 5,000 sockets at once left more than a thousand users online for their counterparts.
MAX_BATCH = 500
STOP_SECONDS = 1.0  # three times this bounds a stop: the tasks, the own reap, then leaving Redis
# An announcement's check, read of whom to tell and publish; past this it is retried at the next heartbeat.
ANNOUNCE_SECONDS = 5.0

# Whether the announcement still holds, and if so its version.
Check = Callable[[], Awaitable[Version | None]]
Announce = Callable[[str, bool, Check], Awaitable[None]]


async def _silent(user_id: str, online: bool, still: Check) -> None:
    return None


class Presence:
    def __init__(self, redis: Redis | None, announce: Announce = _silent) -> None:
        self.redis = redis
        self.announce = announce  # (user_id, online, still): tell the counterparts, with the version `still()` gives
        self.process_id = uuid.uuid4().hex
        self.local: Counter[str] = Counter()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self._changes: list[tuple[bool, str, asyncio.Future[bool]]] = []  # (joining, user, was it a first/last)
        self._beat: asyncio.Future[list[str]] | None = None  # a heartbeat asked of the writer, and who came back
        self._wake = asyncio.Event()
        self._turns = Turns()  # each user's announcements here, one at a time
        self._given = 0  # without Redis: the versions this process gave out
        self.clock = RedisClock()  # for expiry scores, which every process compares
        self._checks = Checks(redis, self.clock) if redis is not None else None  # announcements', with Redis
        self._unsure: set[str] = set()  # users whose last change here was not written or not announced

    @property
    def unsure(self) -> frozenset[str]:
        return frozenset(self._unsure)

    async def start(self) -> None:
        # Without Redis the heartbeat only announces again what failed.
        heartbeats = self._every(HEARTBEAT_EVERY, self.heartbeat, wait_first=self.redis is None)
        self._tasks = [asyncio.create_task(heartbeats)]
        if self.redis is not None:
            self._tasks += [
                asyncio.create_task(self._every(REAP_EVERY, self.reap, wait_first=True)),
                asyncio.create_task(self._write_changes()),
            ]

    async def stop(self) -> None:
        """Stop heartbeating and leave cleanly; bounded, since a reap may be waiting on the database."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
        # Not written: the leaving below announces them (their users are unsure, for when the own reap does not).
        self._unsure.update(user_id for joining, user_id, _ in self._changes if not joining)
        self._settle(self._changes, [False] * len(self._changes))
        self._changes = []
        had_users = bool(self.local)
        self.local.clear()
        if self.redis is not None:
            # A clean shutdown leaves nothing for a reaper: announce (if anyone is left) and deregister now.
            reaped = not had_users
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_SECONDS):
                    if had_users:
                        await self.reap_process(self.process_id)
                        reaped = True
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_SECONDS):
                    await self._deregister(handing_over=not reaped)

    async def _deregister(self, *, handing_over: bool) -> None:
        """Leave Redis, or hand this process's entry, expired now, to the next reap of another process: when
        its own reap did not finish (`handing_over`), or with the unsure users put back, whose leave was
        written (no reaper would find them) but whose offline was never announced."""
        assert self.redis is not None
        if not self._unsure and not handing_over:
            await self.redis.zrem(PROCESSES_KEY, self.process_id)
            return
        now = self.clock.now()
        async with self.redis.pipeline(transaction=True) as pipe:
            for user_id in self._unsure:
                self._hold(pipe, user_id, until=now)  # expired already: the next reap takes them
            pipe.zadd(PROCESSES_KEY, {self.process_id: now})
            pipe.expire(process_key(self.process_id), PROCESS_KEY_SECONDS)
            await pipe.execute()
        log.info("presence: left this process's users for another process to announce offline")
        self._unsure.clear()

    async def connected(self, user_id: str) -> None:
        """A socket of the user opened here. Match every call with `disconnected`, even one that raised."""
        self.local[user_id] += 1
        if self.local[user_id] == 1 and await self._record(True, user_id):
            await self._announce(user_id, True)

    async def disconnected(self, user_id: str) -> None:
        self.local[user_id] -= 1
        if self.local[user_id] > 0:
            return
        del self.local[user_id]
        if await self._record(False, user_id):
            await self._announce(user_id, False)

    async def _announce(self, user_id: str, online: bool) -> None:
        """Announcing is a hint to counterparts (it reads the database); failing it must not fail the socket.

        A failed one leaves the user unsure, for the next heartbeat to announce again.
        """
        try:
            still = partial(self._holds, user_id, online)
            await self._turns.run(user_id, partial(self.announce, user_id, online, still), ANNOUNCE_SECONDS)
        except asyncio.CancelledError:
            self._unsure.add(user_id)  # a stop cut it short: its own hand-over takes the user
            raise
        except Exception as exc:
            self._unsure.add(user_id)
            state = "online" if online else "offline"
            announcing_failed.warning("presence: announcing %s %s failed, to retry: %s", user_id, state, describe(exc))

    async def _holds(self, user_id: str, online: bool) -> Version | None:
        """The announcement's version if the user is still `online` (or still not), else None. Raises on failure."""
        if self._checks is None:
            found, stamp = await self._stamped_read([user_id], announcing=True)
            is_online = user_id in found
        else:
            is_online, stamp = await self._checks.check(user_id)
        return stamp if is_online == online else None

    async def online(self, user_ids: list[str]) -> set[str]:
        return (await self.snapshot(user_ids))[0]

    async def version(self) -> Version | None:
        """The version now, stamped as `snapshot` stamps it: a floor for later reads.

        None when Redis failed it, unlogged: a hello's lookup right after says so once.
        """
        try:
            return (await self._stamped_read([], announcing=False))[1]
        except Exception:
            return None

    async def snapshot(self, user_ids: list[str], *, announcing: bool = False) -> tuple[set[str], Version | None]:
        """Who of these users is online, and the version as of that read (None when Redis failed it).

        `announcing`: the version is for an announcement made from this read, newer than every one before.
        """
        try:
            return await self._stamped_read(user_ids, announcing=announcing)
        except Exception:
            lookups_failed.warning("presence lookup failed; answering from this process only")
            return {u for u in user_ids if self.local[u] > 0}, None

    async def _stamped_read(self, user_ids: list[str], *, announcing: bool) -> tuple[set[str], Version]:
        """Who is online and the version, stamped before the read (the module docstring says why); raises."""
        if self.redis is None:
            self._given += announcing
            return {u for u in user_ids if self.local[u] > 0}, (0, self._given)
        return await stamped_read(self.redis, self.clock, user_ids, announcing=announcing)

    async def _record(self, joining: bool, user_id: str) -> bool:
        """Record this process's first socket of the user (`joining`), or its last one gone.

        True when that made the user online after being offline everywhere, or offline everywhere.
        """
        if self.redis is None:
            return True
        if self._stopped.is_set() or not self._tasks:
            # Not running: stopping reaps this process's users itself, but a leave that comes while it stops
            # may leave it none to reap.
            if not joining and self._stopped.is_set():
                self._unsure.add(user_id)  # handed to another process's reaper (`_deregister`)
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._changes.append((joining, user_id, future))
        self._wake.set()
        return await future

    async def _write_changes(self) -> None:
        """Write queued joins and leaves, a batch at a time in the order they came, and heartbeats between."""
        assert self.redis is not None
        while True:
            if not self._changes and self._beat is None:
                self._wake.clear()
                await self._wake.wait()
            if self._changes:
                await self._write_batch()
            if self._beat is not None:  # after one batch at most, so that churn never starves the heartbeat
                beat, self._beat = self._beat, None  # shielded by its waiters: nothing cancels it
                try:
                    beat.set_result(await self._refresh())
                except Exception as exc:
                    beat.set_exception(exc)

    async def _write_batch(self) -> None:
        assert self.redis is not None
        batch, self._changes = self._changes[:MAX_BATCH], self._changes[MAX_BATCH:]
        now = self.clock.now()
        ends: list[int] = []  # where each change's replies end: its ZCOUNT is the last
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for joining, user_id, _ in batch:
                    if joining:
                        self._hold(pipe, user_id, until=now + TTL_SECONDS)
                    else:
                        pipe.zrem(user_key(user_id), self.process_id)
                        pipe.srem(process_key(self.process_id), user_id)
                    pipe.zcount(user_key(user_id), now, "+inf")
                    ends.append(len(pipe))
                pipe.expire(process_key(self.process_id), PROCESS_KEY_SECONDS)
                replies = await pipe.execute()
        except (Exception, asyncio.CancelledError) as exc:
            # Whether Redis applied the batch is unknown: its users are unsure, and a stop that cancelled the
            # write mid-batch hands them to another process's reaper, since its own reap may not find them.
            self._unsure.update(user_id for _, user_id, _ in batch)
            self._settle(batch, [False] * len(batch))
            if isinstance(exc, asyncio.CancelledError):
                raise
            reason = describe(exc)
            log.warning("presence: Redis unreachable, %d join(s) and leave(s) unannounced: %s", len(batch), reason)
            return
        live = [int(replies[end - 1]) for end in ends]
        self._settle(batch, [n == 1 if joining else n == 0 for (joining, _, _), n in zip(batch, live, strict=True)])

    @staticmethod
    def _settle(batch: list[tuple[bool, str, asyncio.Future[bool]]], outcomes: list[bool]) -> None:
        for (_, _, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def heartbeat(self) -> None:
        """Push this process's expiry forward, in turn with joins and leaves; announce who came back, and the
        unsure users as they now stand (an announcement checks that it holds before it is published)."""
        if self._stopped.is_set() or not self._tasks:
            return
        if self.redis is None:
            users, self._unsure = list(self._unsure), set()
        else:
            if self._beat is None:
                self._beat = asyncio.get_running_loop().create_future()
                self._wake.set()
            beat = self._beat
            try:
                users = await asyncio.shield(beat)
            except asyncio.CancelledError:
                # A stop between the write and this task's turn: the users it took off the unsure list are
                # announced by nobody unless they go back on it, for the stop to hand over.
                if beat.done() and not beat.cancelled() and beat.exception() is None:
                    self._unsure.update(beat.result())
                raise
        # At once, each within its ANNOUNCE_SECONDS: the next heartbeat is not held up by a slow database.
        await asyncio.gather(*(self._announce(user_id, self.local[user_id] > 0) for user_id in users))

    async def _refresh(self) -> list[str]:
        """Write the heartbeat, and again the leaves of unsure users; returns whom to announce.

        Those are the users whose entry here had been reaped or had expired, and who were offline since
        (another process may have announced so), and the unsure.
        """
        assert self.redis is not None
        users = list(self.local)
        unsure = set(self._unsure)
        joining = {user_id for joins, user_id, _ in self._changes if joins}  # not written yet: they announce
        self.clock.saw(await self.redis.time())
        now = self.clock.now()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(PROCESSES_KEY, {self.process_id: now + TTL_SECONDS})
            for user_id in users:
                pipe.zscore(user_key(user_id), self.process_id)
                self._hold(pipe, user_id, until=now + TTL_SECONDS)
                pipe.zcount(user_key(user_id), now, "+inf")
            for user_id in unsure - set(users):  # a leave that may not have been written
                pipe.zrem(user_key(user_id), self.process_id)
                pipe.srem(process_key(self.process_id), user_id)
            pipe.expire(process_key(self.process_id), PROCESS_KEY_SECONDS)
            replies = await pipe.execute()
        self._unsure -= unsure  # what failed meanwhile stays for the next heartbeat
        each = 5  # a user's replies: ZSCORE, _hold's three, ZCOUNT
        per_user = [replies[1 + each * i : 1 + each * (i + 1)] for i in range(len(users))]
        came_back = [
            user_id
            for user_id, (held_until, _, _, _, live) in zip(users, per_user, strict=True)
            if (held_until is None or float(held_until) < now) and int(live) == 1 and user_id not in joining
        ]
        return [*came_back, *(unsure - set(came_back) - joining)]

    def _hold(self, pipe: Pipeline, user_id: str, *, until: float) -> None:
        """Queue the commands that record (or refresh) this process holding a socket of the user `until` then:
        three replies."""
        pipe.zadd(user_key(user_id), {self.process_id: until})
        pipe.expire(user_key(user_id), USER_KEY_SECONDS)
        pipe.sadd(process_key(self.process_id), user_id)

    async def reap(self) -> None:
        """Announce the users of processes that stopped heartbeating (crashed, killed)."""
        assert self.redis is not None
        for raw in await self.redis.zrangebyscore(PROCESSES_KEY, "-inf", self.clock.now()):
            dead = text(raw)
            # One surviving process reaps each dead one.
            if await self.redis.set(f"presence:reap:{dead}", self.process_id, nx=True, ex=REAP_LOCK_SECONDS):
                await self.reap_process(dead)

    async def reap_process(self, process_id: str) -> None:
        assert self.redis is not None
        for raw in await self.redis.smembers(process_key(process_id)):
            user_id = text(raw)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(user_key(user_id), process_id)
                pipe.zcount(user_key(user_id), self.clock.now(), "+inf")
                _, live = await pipe.execute()
            if int(live) == 0 and self.local[user_id] == 0:
                await self._announce(user_id, False)
        await self.redis.delete(process_key(process_id))
        await self.redis.zrem(PROCESSES_KEY, process_id)

    async def _every(self, seconds: float, work: Callable[[], Awaitable[None]], *, wait_first: bool = False) -> None:
        if wait_first and await self._sleep(seconds):
            return
        while True:
            try:
                await work()
            except Exception:
                log.warning("presence %s failed; retrying in %.0f s", work.__name__, seconds, exc_info=True)
            if await self._sleep(seconds):
                return

    async def _sleep(self, seconds: float) -> bool:
        """Wait, or return True at once when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)
        return self._stopped.is_set()
