"""Fan-out of events to every server process, over `broadcaster`.

`BROADCAST_URL` picks the backend: `memory://` keeps events inside one
process (the embedded default), `redis://` shares them between processes and
hosts. One `Fanout` per process:

    Fanout
     ├── Broadcast (broadcaster's, realtime/channel.py) over our RedisBackend, or its MemoryBackend
     ├── one Channel (realtime/channel.py) per channel with local subscribers: ONE broadcaster
     │   subscription, fed by broadcaster's listener, and the subscribers' bounded Mailboxes
     └── a supervisor task (Redis only) that notices an outage and rebuilds

Guarding broadcaster's faults (PITFALLS.md): a channel's subscription is
opened and closed only by `_reconcile`, under the channel's lock, in a task
of its own, so two sockets joining a new channel at once share one
subscription, many leaving at once unsubscribe once, and a cancelled socket
task never leaves a half-opened subscription behind. broadcaster's
unbounded per-subscription queue is not used: its listener hands each event
to the channel, which hands it to the mailboxes without ever waiting; the
bound is each mailbox's `maxsize`.

After Redis comes back the supervisor connects a fresh `Broadcast`,
resubscribes every channel that still has mailboxes, puts
`{"type": "_resync"}` into every mailbox and calls the `on_reconnect`
callbacks: events published meanwhile were lost, and each socket reads what
it missed from the database.

Publishing never goes through broadcaster: `publish` hands the event to the
`Publisher` (realtime/publisher.py), whose task sends queued events to Redis
in pipelines, and drops them, owing their channels a `_resync`, when Redis
cannot take them. Every process also subscribes to `CONTROL_CHANNEL`, where a
`_resync` means "every socket of this process".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse

from redis.asyncio import Redis
from redis.exceptions import RedisError

from realtime import wire
from realtime.channel import Broadcast, Channel
from realtime.mailbox import RESYNC_TYPE, Mailbox
from realtime.publisher import CONTROL_CHANNEL, Publisher
from realtime.redis_backend import RedisBackend, channel_prefix, describe, redis_client

log = logging.getLogger(__name__)

# A pipeline of events that Redis has not taken after this is dropped (and its channels resync):
# events queued behind a hung Redis must not pile up.
PUBLISH_TIMEOUT_SECONDS = 1.0
# Health checks and the supervisor's probe answer quickly even when Redis hangs rather than refuses.
PING_TIMEOUT_SECONDS = 1.0
# How soon a Redis that hangs, or one that is back, is noticed (a dropped connection is noticed at once).
PROBE_INTERVAL_SECONDS = 0.5
# One slow PING is not an outage: rebuilding makes every client sync.
PROBE_FAILURES_FOR_OUTAGE = 2
# Bounds connecting, subscribing and unsubscribing, so start-up and shutdown never hang on Redis.
REDIS_TIMEOUT_SECONDS = 1.0
SHUTDOWN_SECONDS = 2.0
# A health check that finds Redis answering but fan-out not yet rebuilt waits this long for the
# rebuild rather than reporting a restart as an outage (the health endpoint allows 3 s in all).
PING_RECOVERY_SECONDS = 1.5
# Events a subscriber may fall behind before its mailbox overflows (the socket is closed with 1013).
# Mailboxes of a channel share each decoded event, so this bounds references, not copies.
DEFAULT_MAILBOX_SIZE = 256


class Fanout:
    """The process's one fan-out hub: `publish`, `subscribe`, `ping`, `available`, `on_reconnect`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.on_reconnect: list[Callable[[], object]] = []
        self._supervised = urlparse(url).scheme in ("redis", "rediss")
        self._broadcast: Broadcast | None = None
        self._backend: RedisBackend | None = None
        # For health checks and the supervisor's probe (PING only).
        self.redis: Redis | None = None
        self._publishing: Redis | None = None
        self.publisher: Publisher | None = None
        if self._supervised:
            self.redis = redis_client(url, timeout=PING_TIMEOUT_SECONDS)
            self._publishing = redis_client(url, timeout=PUBLISH_TIMEOUT_SECONDS)
            self.publisher = Publisher(self._publishing, PUBLISH_TIMEOUT_SECONDS, channel_prefix(url))
        self._supervisor: asyncio.Task[None] | None = None
        self._channels: dict[str, Channel] = {}
        self._chores: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()  # cuts the supervisor's wait short: Redis may be back

    @property
    def available(self) -> bool:
        """Whether events currently reach subscribers (as far as this process can tell)."""
        if self._broadcast is None:
            return False
        return self._backend is None or not self._backend.lost.is_set()

    async def connect(self) -> None:
        """Start fan-out; with Redis down this still succeeds and fan-out starts when Redis is back."""
        if not self._supervised:
            broadcast = Broadcast(self.url)
            await broadcast.connect()
            self._broadcast = broadcast
            return
        assert self.publisher is not None
        control = self._channels[CONTROL_CHANNEL] = Channel(CONTROL_CHANNEL)
        control.mailboxes.add(_ResyncEveryone(self))
        self.publisher.start()
        await self._shielded(self._attach(resync=False))
        self._supervisor = asyncio.create_task(self._supervise(), name="fanout supervisor")

    async def disconnect(self) -> None:
        """Stop fan-out and close every mailbox; bounded, and quiet when Redis is down."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.wait([self._supervisor])
            self._supervisor = None
        await self._finish_chores()
        if self.publisher is not None:
            await self.publisher.stop(SHUTDOWN_SECONDS)
        for entry in list(self._channels.values()):
            for mailbox in entry.mailboxes:
                mailbox.close()
        await self._detach()
        for client in (self.redis, self._publishing):
            if client is not None:
                await client.aclose()
        self.redis = self._publishing = None  # a late call must not open a connection nobody closes

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        """Send `event` to every subscriber of `channel` in every process; call it after the commit.

        With Redis this only queues the event and never waits on Redis: the
        publisher sends it within moments, or drops it and later tells the
        channel's sockets to resync (realtime/publisher.py). Publishing is
        tried even while the supervisor counts Redis as down, since other
        processes may already be back.
        """
        message = wire.dumps(event)
        if self.publisher is not None:
            self.publisher.put(channel, message)
        elif self._broadcast is not None:
            await self._broadcast.publish(channel, message)
        else:
            log.warning("fan-out not connected: dropped an event for %s", channel)

    async def flushed(self) -> None:
        """Return once every event published so far has reached Redis (or was dropped)."""
        if self.publisher is not None:
            await self.publisher.flushed()

    async def ping(self) -> bool:
        """Readiness: fan-out is up, and for Redis a PING is answered now.

        When Redis answers but fan-out is still down (Redis just came back),
        the supervisor is woken and given PING_RECOVERY_SECONDS to rebuild.
        """
        if self.redis is None:
            return self.available
        if not await self._answers():
            return False
        if not self.available:
            self._wake.set()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + PING_RECOVERY_SECONDS
            while not self.available and loop.time() < deadline:
                await asyncio.sleep(0.05)
        return self.available

    @asynccontextmanager
    async def subscribe(self, channel: str, *, maxsize: int = DEFAULT_MAILBOX_SIZE) -> AsyncIterator[Mailbox]:
        """A mailbox receiving every event published to `channel`, by any process, until the block exits.

        Once this has entered, every later publish is delivered (while fan-out
        is available). During an outage it enters at once; the mailbox gets
        `_resync` when fan-out is back. On exit the mailbox is closed and the
        channel unsubscribed when it was the last one.
        """
        mailbox = Mailbox(channel, maxsize)
        entry = self._channels.get(channel)
        if entry is None:
            entry = self._channels[channel] = Channel(channel)
        entry.mailboxes.add(mailbox)
        try:
            await self._shielded(self._reconcile(entry))
            yield mailbox
        finally:
            mailbox.close()
            entry.mailboxes.discard(mailbox)
            await self._shielded(self._reconcile(entry))

    async def _reconcile(self, entry: Channel) -> None:
        """Make the channel's one subscription match its mailboxes and the current Broadcast."""
        async with entry.lock:
            wanted = self._broadcast if entry.mailboxes and self.available else None
            current = entry.subscribed_to
            if current is not None and current is not wanted:
                entry.subscribed_to = None
                await current.detach(entry)
            if wanted is not None and entry.subscribed_to is None:
                await wanted.attach(entry)
                entry.subscribed_to = wanted
            if entry.subscribed_to is None and not entry.mailboxes and self._channels.get(entry.name) is entry:
                del self._channels[entry.name]

    async def _reconcile_all(self) -> None:
        entries = list(self._channels.values())
        for outcome in await asyncio.gather(*map(self._reconcile, entries), return_exceptions=True):
            if isinstance(outcome, BaseException):
                log.error("fan-out resubscription failed", exc_info=outcome)

    async def _supervise(self) -> None:
        while True:
            try:
                if self._backend is not None:
                    if self.available:
                        await self._until_lost(self._backend)
                    # Also when it was lost before `_attach` ended (its subscribes yield): the next `_attach`
                    # would otherwise leave that Broadcast undisposed, its listener task and client kept.
                    await self._shielded(self._detach())
                await self._until_answering()
                await self._shielded(self._attach(resync=True))
            except Exception:  # a bug here must not end reconnection for the life of the process
                log.exception("fan-out supervisor failed; carrying on")
                await asyncio.sleep(PROBE_INTERVAL_SECONDS)

    async def _until_lost(self, backend: RedisBackend) -> None:
        """Until the subscription fails, or stops answering PING on its own connection, which is then lost.

        Probed on that connection, not on another one: a subscription that died silently (no reset)
        hears nothing more, while another connection to the same Redis still answers.
        """
        failures = 0
        while failures < PROBE_FAILURES_FOR_OUTAGE:
            try:
                async with asyncio.timeout(PROBE_INTERVAL_SECONDS):
                    await backend.lost.wait()
                return
            except TimeoutError:
                failures = 0 if await backend.answers(PING_TIMEOUT_SECONDS) else failures + 1
        backend.lose("the subscription's connection does not answer PING")

    async def _until_answering(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PROBE_INTERVAL_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            if await self._answers():
                return

    async def _answers(self) -> bool:
        assert self.redis is not None
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                return bool(await self.redis.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def _detach(self) -> None:
        """Drop the current Broadcast and every subscription made through it."""
        old, self._broadcast, self._backend = self._broadcast, None, None
        await self._reconcile_all()
        if old is not None:
            await _dispose(old)

    async def _attach(self, *, resync: bool) -> None:
        """Connect a fresh Broadcast and subscribe every channel that has mailboxes."""
        backend = RedisBackend(self.url, REDIS_TIMEOUT_SECONDS)
        broadcast = Broadcast(backend=backend)
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                await broadcast.connect()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("Redis fan-out unavailable, retrying in the background: %s", describe(exc))
            await backend.disconnect()
            return
        self._broadcast, self._backend = broadcast, backend
        await self._reconcile_all()
        if resync:
            self._resync()
        log.info("Redis fan-out connected")

    def _resync(self) -> None:
        self.resync_mailboxes()
        for callback in list(self.on_reconnect):
            try:
                callback()
            except Exception:
                log.exception("on_reconnect callback failed")

    def resync_mailboxes(self) -> None:
        """Tell every socket of this process to read what it missed from the database."""
        for entry in list(self._channels.values()):
            if entry.name != CONTROL_CHANNEL:
                for mailbox in entry.mailboxes:
                    mailbox.deliver({"type": RESYNC_TYPE})

    async def _shielded(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in a task of its own: cancelling the caller (a closing socket) does not cut it short."""
        task = asyncio.create_task(work)
        self._chores.add(task)
        task.add_done_callback(self._chore_done)
        await asyncio.shield(task)

    def _chore_done(self, task: asyncio.Task[None]) -> None:
        self._chores.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("fan-out bookkeeping failed", exc_info=task.exception())

    async def _finish_chores(self) -> None:
        if not self._chores:
            return
        _, pending = await asyncio.wait(set(self._chores), timeout=SHUTDOWN_SECONDS)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


async def _dispose(broadcast: Broadcast) -> None:
    try:
        async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
            await broadcast.disconnect()
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("closing the old Redis fan-out failed: %s", describe(exc))


class _ResyncEveryone(Mailbox):
    """The control channel's one subscriber in each process: a `_resync` there is for every socket."""

    def __init__(self, fanout: Fanout) -> None:
        super().__init__(CONTROL_CHANNEL, 1)
        self._fanout = fanout

    def deliver(self, event: dict[str, Any]) -> None:
        if event.get("type") == RESYNC_TYPE and not self.closed:
            self._fanout.resync_mailboxes()
