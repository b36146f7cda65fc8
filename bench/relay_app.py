"""The baseline for `bench/fanout.py`: a bare Starlette + broadcaster relay, no database.

A client connects to `/ws?channel=<name>` and is subscribed to that channel;
every frame it sends, `{"to": <channel>, ...}`, is published as is on that
channel, and every socket subscribed to it (on any process) receives it.
Run with `uvicorn --app-dir bench relay_app:app`; `RELAY_BROADCAST_URL`
chooses the backend.

Three of broadcaster's faults (PITFALLS.md) are patched here, so that the
baseline measures a relay rather than those bugs: its Redis backend publishes
over a pool that raises `MaxConnectionsError` past 100 busy publishers (which
killed relay sockets from 1,000 msg/s on), so publishes go through a pool that
waits instead; its listener, woken by a process's first subscribe before
redis-py has recorded the channel, stops listening until the next one, so it
is woken only after; and two sockets subscribing to (or leaving) one channel
at once corrupt its subscriber table (`KeyError`), so subscribing and leaving
are serialized by one lock. tests/test_bench_relay.py proves the last two.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from broadcaster import Broadcast
from broadcaster._backends.redis import RedisBackend
from broadcaster._base import Subscriber
from redis.asyncio import BlockingConnectionPool, Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

URL = os.environ.get("RELAY_BROADCAST_URL", "redis://127.0.0.1:6379/0")
PUBLISH_CONNECTIONS = 50


class PooledRedisBackend(RedisBackend):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        pool = BlockingConnectionPool.from_url(url, max_connections=PUBLISH_CONNECTIONS)
        self._publisher = Redis(connection_pool=pool)

    async def subscribe(self, channel: str) -> None:
        # Wake the listener only once redis-py has recorded the channel: woken before, it finds nothing
        # subscribed, stops listening and waits for the next subscribe, so a process's lone channel is deaf.
        await self._pubsub.subscribe(channel)
        self._ready.set()

    async def publish(self, channel: str, message: object) -> None:
        await self._publisher.publish(channel, message)  # type: ignore[arg-type]

    async def disconnect(self) -> None:
        await super().disconnect()
        await self._publisher.aclose()


broadcast = Broadcast(backend=PooledRedisBackend(URL)) if URL.startswith("redis") else Broadcast(URL)
subscribing = asyncio.Lock()


@asynccontextmanager
async def subscribed(channel: str) -> AsyncIterator[Subscriber]:
    subscription = broadcast.subscribe(channel)
    async with subscribing:
        subscriber = await subscription.__aenter__()
    try:
        yield subscriber
    finally:
        async with subscribing:
            await subscription.__aexit__(None, None, None)


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def relay(websocket: WebSocket) -> None:
    await websocket.accept()
    channel = websocket.query_params["channel"]
    async with subscribed(channel) as subscriber, anyio.create_task_group() as tasks:

        async def read() -> None:
            async for text in websocket.iter_text():
                await broadcast.publish(json.loads(text)["to"], text)
            tasks.cancel_scope.cancel()

        tasks.start_soon(read)
        await websocket.send_text('{"type": "ready"}')  # subscribed: what it is sent from now on arrives
        # broadcaster annotates `Subscriber.__aiter__` as an Optional generator of Optional events.
        async for event in subscriber:  # type: ignore[union-attr]
            await websocket.send_text(event.message)  # type: ignore[union-attr]


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with broadcast:
        yield


app = Starlette(routes=[Route("/health", health), WebSocketRoute("/ws", relay)], lifespan=lifespan)
