"""broadcaster's Redis backend, rebuilt around the faults listed in PITFALLS.md.

broadcaster 0.3.1's own `RedisBackend` loses the first subscription of a
process (its listener checks `pubsub.subscribed` before redis-py records the
channel, then waits for a signal that never comes again), publishes over a
pool that raises past 100 connections, has no timeouts, and dies silently
when Redis drops. This one plugs into `Broadcast(backend=...)` instead:

- one reader task owns the subscription connection; any failure there sets
  `lost` and the reader stops. redis-py's own retries are off on that
  connection, because a silent reconnect would hide the events missed in
  between: the fan-out must notice, rebuild and tell clients to `sync`;
- `subscribe`/`unsubscribe` never raise and are bounded by `timeout`: a
  failure sets `lost` as well (broadcaster turns a failing subscribe into a
  `KeyError` and a dangling entry);
- it never publishes: the fan-out's `Publisher` (realtime/publisher.py) owns
  publishing, outlives each rebuilt backend and pipelines its events;
- on a database other than 0 its channels carry that database's prefix on
  the wire (`channel_prefix`), as the publisher's do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from broadcaster import BroadcastBackend, Event
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def redis_client(
    url: str, *, timeout: float, retries: int = 1, connections: int | None = None, wait: float | None = None
) -> Redis:
    """A client that gives up after `timeout` instead of hanging on a Redis that does not answer.

    One retry, on connection errors only, replaces a connection that died with
    a restarted Redis; a timeout is not retried since the command may have run.
    With `connections`, callers beyond that many at once wait for a free
    connection (up to `wait` seconds, or `timeout`) instead of each opening
    one of their own.
    """
    retry = Retry(NoBackoff(), retries, supported_errors=(RedisConnectionError,))
    options: dict[str, Any] = {"socket_connect_timeout": timeout, "socket_timeout": timeout, "retry": retry}
    if connections is None:
        return Redis.from_url(url, **options)
    return Redis.from_pool(
        BlockingConnectionPool.from_url(url, max_connections=connections, timeout=wait or timeout, **options)
    )


def channel_prefix(url: str) -> str:
    """What a fan-out channel's name starts with in Redis: `db<n>:` on database n, nothing on 0.

    Redis pub/sub ignores the database number, so two deployments given
    different databases of one Redis (staging beside production, say) would
    otherwise hear each other's events: every resync, and, where staging was
    restored from production, every user's messages. Database 0 keeps the
    bare names, which a rolling deploy onto this code relies on.
    """
    db = int(parse_url(url).get("db", 0))
    return f"db{db}:" if db else ""


def describe(exc: BaseException) -> str:
    """redis-py's exceptions have unhelpful reprs ("network:ConnectionError") and timeouts have no text."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class RedisBackend(BroadcastBackend):
    def __init__(self, url: str, timeout: float) -> None:
        self._timeout = timeout
        self._prefix = channel_prefix(url)
        self._client = redis_client(url, timeout=timeout, retries=0)
        self._pubsub = self._client.pubsub()
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._pongs: dict[str, asyncio.Future[None]] = {}  # a PING's token -> who waits for its PONG
        # channel -> its subscribe awaiting Redis's confirmation: one at a time, under the channel's lock (fanout.py)
        self._confirming: dict[bytes, asyncio.Future[None]] = {}
        self._pinged = 0
        self.lost = asyncio.Event()

    async def connect(self) -> None:
        await self._pubsub.connect()
        self._reader = asyncio.create_task(self._read(), name="fanout redis reader")

    async def disconnect(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])
        await self._pubsub.aclose()
        await self._client.aclose()

    async def subscribe(self, channel: str) -> None:
        """Return once Redis has confirmed the subscription, not once the command was written.

        The socket then reads its chats: an event published before Redis took the SUBSCRIBE (a packet
        retransmitted, a busy Redis) would reach nobody, and its message would be missing until the
        chat's next one.
        """
        name = self._prefix + channel
        key = name.encode()  # as the confirmation names it
        self._confirming[key] = confirmed = asyncio.get_running_loop().create_future()
        try:
            await self._command(self._pubsub.subscribe, name, confirmed)
        finally:
            if self._confirming.get(key) is confirmed:
                del self._confirming[key]

    async def unsubscribe(self, channel: str) -> None:
        await self._command(self._pubsub.unsubscribe, self._prefix + channel)

    async def publish(self, channel: str, message: Any) -> None:
        raise RuntimeError("events are published through Fanout.publish, which pipelines them")

    async def next_published(self) -> Event:
        return await self._events.get()

    async def answers(self, seconds: float) -> bool:
        """Whether the subscription connection itself answers a PING within `seconds`.

        Its PONG comes back through the reader, behind the events before it. A connection that died
        without a reset (a NAT or firewall dropping it while idle) answers nothing and raises nothing,
        though a PING on any other connection to the same Redis is answered.
        """
        if self.lost.is_set():
            return False
        self._pinged += 1
        token = str(self._pinged)
        self._pongs[token] = pong = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(seconds):
                await self._pubsub.ping(token)
                await pong
            return True
        except (RedisError, OSError, TimeoutError):
            return False
        finally:
            del self._pongs[token]

    def lose(self, reason: str | BaseException) -> None:
        """Mark the subscription connection unusable; the fan-out rebuilds on this signal."""
        if not self.lost.is_set():
            log.warning("Redis subscription lost: %s", reason if isinstance(reason, str) else describe(reason))
            self.lost.set()
            for confirmed in self._confirming.values():  # none comes now: the rebuild subscribes again
                if not confirmed.done():
                    confirmed.set_exception(ConnectionError("the Redis subscription was lost"))

    async def _command(
        self, command: Callable[[str], Awaitable[Any]], channel: str, answered: asyncio.Future[None] | None = None
    ) -> None:
        if self.lost.is_set():
            return  # the connection is going away; the rebuild subscribes afresh
        try:
            async with asyncio.timeout(self._timeout):
                await command(channel)
                if answered is not None:
                    await answered
        except (RedisError, OSError, TimeoutError) as exc:
            self.lose(exc)

    async def _read(self) -> None:
        unprefixed = len(self._prefix)
        try:
            while True:
                message = await self._pubsub.get_message(timeout=None)
                if message is not None and message["type"] == "message":
                    channel = message["channel"].decode()[unprefixed:]
                    self._events.put_nowait(Event(channel, message["data"].decode()))
                elif message is not None and message["type"] == "subscribe":
                    confirmed = self._confirming.get(message["channel"])
                    if confirmed is not None and not confirmed.done():
                        confirmed.set_result(None)
                elif message is not None and message["type"] == "pong":
                    pong = self._pongs.get(message["data"].decode())
                    if pong is not None and not pong.done():
                        pong.set_result(None)
        except Exception as exc:  # whatever broke the read, this connection can no longer be trusted
            self.lose(exc)
