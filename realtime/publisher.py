"""Publishing to Redis off the request path: a bounded queue, drained by one task in pipelines.

A request that has committed hands its events to `Publisher.put`, which never
waits. One task takes whatever has queued up and sends it in one pipeline
(one round trip for the lot) instead of one awaited round trip per event:
over one connection those round trips were serialized behind the event loop,
and under load publishes queued past their timeout and were dropped.

Events of one channel that leave in one pipeline travel as one Redis message,
`{"type": "_batch", "events": [...]}` (`BATCH_TYPE`), which `Channel` unpacks
into the mailboxes in order: fewer messages for Redis and fewer decodes for
every subscribing process. Per channel, events leave in the order they were
put.

Events are hints: the database holds what they describe. When they cannot be
sent, they are dropped, never retried later:
- the queue holds at most `MAX_QUEUED_EVENTS`; an event that finds it full is
  dropped (Redis is not keeping up);
- a pipeline that fails or takes longer than `timeout` (Redis down or hung)
  drops its events and everything queued behind it, so an outage never
  delivers stale events afterwards.
Either way the channel is remembered, and once a pipeline succeeds again each
remembered channel is sent `{"type": "_resync"}`: its sockets, on whatever
process, read what they missed from the database (`Delivery.resync`). Past
`MAX_REMEMBERED_CHANNELS` one `_resync` on `CONTROL_CHANNEL` tells every
process to resync every socket instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from redis.asyncio import Redis
from redis.exceptions import RedisError

from realtime.mailbox import RESYNC_TYPE
from realtime.redis_backend import describe

log = logging.getLogger(__name__)

BATCH_TYPE = "_batch"
CONTROL_CHANNEL = "fanout:control"
# About two seconds of the heaviest traffic measured (bench/fanout.py: ~3 events per message at
# 2,000 msg/s over two processes); a few MB at most. Past it Redis is not keeping up anyway.
MAX_QUEUED_EVENTS = 10_000
# Events per pipeline: large enough that a round trip carries a burst, small enough to stay well
# under the publish timeout on a loaded Redis.
MAX_PIPELINE_EVENTS = 1_000
# Events of one channel per Redis message. A message reaches a mailbox in one go, so this is no more
# than the smallest mailbox settings allow (WS_BACKLOG >= 16): one message alone never overflows one.
MAX_BATCH_EVENTS = 16
# A resync costs each socket of the channel a few queries; past this many channels, one global hint.
MAX_REMEMBERED_CHANNELS = 10_000
RESYNC_MESSAGE = '{"type":"' + RESYNC_TYPE + '"}'
# After a drop, owed hints are retried this often even when no new event comes to carry them.
RETRY_SECONDS = 0.5
# Drops are logged at most this often: an outage at full traffic must not flood the log.
WARN_EVERY_SECONDS = 5.0
# The share of a stop's time kept for the resync hints of what the flush could not send.
HINTS_SHARE = 0.25


class Publisher:
    """The process's one way to Redis for events: `put` them, a task sends them."""

    def __init__(self, client: Redis, timeout: float, prefix: str) -> None:
        self._client = client
        self._timeout = timeout
        self._prefix = prefix  # the database's channel prefix (redis_backend.channel_prefix)
        self._queue: deque[tuple[str, str]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._sending: list[tuple[str, str]] = []  # the pipeline in flight
        self.missed: set[str] = set()  # channels owed a `_resync`
        self.missed_too_many = False
        self.dropped = 0  # events dropped since start, for logs and tests
        self._warned_at = -WARN_EVERY_SECONDS
        self._unreported = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="fanout publisher")

    async def stop(self, seconds: float) -> None:
        """Send what is queued, then the resync hints still owed, for at most `seconds` in all; then stop.

        The task sends owed hints with its next pipeline or after RETRY_SECONDS: a process stopping
        soon after a drop would otherwise take them along, and those sockets would never resync. What
        the flush could not send in its share of the time is dropped as any drop is: logged, and its
        channels owed hints, which then get the rest of the time.
        """
        if self._task is None:
            return
        deadline = asyncio.get_running_loop().time() + seconds
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline - seconds * HINTS_SHARE):
                await self.flushed()
        self._task.cancel()
        await asyncio.wait([self._task])
        self._task = None
        if unsent := self._sending + list(self._queue):
            self._sending = []
            self._queue.clear()
            self._drop([channel for channel, _ in unsent], "the process stopped before Redis took them", last=True)
        if owed := self._owed():
            try:
                async with asyncio.timeout_at(deadline):
                    await self._send(owed)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("%d resync hint(s) for Redis were lost at shutdown (%s)", len(owed), describe(exc))

    async def flushed(self) -> None:
        """Return once everything put so far has been sent or dropped."""
        await self._idle.wait()

    def put(self, channel: str, message: str) -> None:
        """Queue an encoded event; never waits. A full queue drops it (see the module docstring)."""
        if len(self._queue) >= MAX_QUEUED_EVENTS:
            self._drop([channel], "the publish queue is full")
            return
        self._queue.append((channel, message))
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                owing = bool(self.missed) or self.missed_too_many
                try:
                    await asyncio.wait_for(self._wake.wait(), RETRY_SECONDS if owing else None)
                except TimeoutError:
                    pass
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_PIPELINE_EVENTS))]
            batch += self._owed()
            if not batch:
                continue
            self._sending = batch
            try:
                async with asyncio.timeout(self._timeout):
                    await self._send(batch)
            except (RedisError, OSError, TimeoutError) as exc:
                stale = list(self._queue)
                self._queue.clear()
                self._drop([channel for channel, _ in batch + stale], describe(exc))
            except Exception:  # a bug here must not stop publishing for the life of the process
                log.exception("publishing failed")
                self._drop([channel for channel, _ in batch], "an unexpected error")
            self._sending = []

    async def _send(self, batch: list[tuple[str, str]]) -> None:
        grouped: dict[str, list[str]] = {}
        for channel, message in batch:
            grouped.setdefault(channel, []).append(message)
        pipe = self._client.pipeline(transaction=False)
        for channel, messages in grouped.items():
            name = self._prefix + channel
            for start in range(0, len(messages), MAX_BATCH_EVENTS):
                chunk = messages[start : start + MAX_BATCH_EVENTS]
                if len(chunk) == 1:
                    pipe.publish(name, chunk[0])
                else:
                    pipe.publish(name, '{"type":"' + BATCH_TYPE + '","events":[' + ",".join(chunk) + "]}")
        await pipe.execute()

    def _owed(self) -> list[tuple[str, str]]:
        """The `_resync` hints owed for earlier drops, sent along with the next pipeline."""
        if self.missed_too_many:
            self.missed_too_many = False
            self.missed.clear()
            return [(CONTROL_CHANNEL, RESYNC_MESSAGE)]
        owed = [(channel, RESYNC_MESSAGE) for channel in self.missed if channel != CONTROL_CHANNEL]
        self.missed.clear()
        return owed

    def _drop(self, channels: list[str], reason: str, *, last: bool = False) -> None:
        """Owe the channels a `_resync` and log, at most every WARN_EVERY_SECONDS unless it is the `last` chance."""
        self.dropped += len(channels)
        for channel in channels:
            if channel == CONTROL_CHANNEL or len(self.missed) >= MAX_REMEMBERED_CHANNELS:
                self.missed_too_many = True
            elif not self.missed_too_many:
                self.missed.add(channel)
        self._unreported += len(channels)
        now = time.monotonic()
        if last or now - self._warned_at >= WARN_EVERY_SECONDS:
            log.warning("dropped %d event(s) for Redis (%s); their sockets will resync", self._unreported, reason)
            self._warned_at, self._unreported = now, 0
