"""The baseline for `bench/fanout.py`: a bare Starlette + broadcaster relay, no database.

A client connects to `/ws?channel=<name>` and is subscribed to that channel;
every frame it sends, `{"to": <channel>, ...}`, is published as is on that
channel, and every socket subscribed to it (on any process) receives it.
Run with `uvicorn --app-dir bench relay_app:app`; `RELAY_BROADCAST_URL`
chooses the backend.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from broadcaster import Broadcast
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

broadcast = Broadcast(os.environ.get("RELAY_BROADCAST_URL", "redis://127.0.0.1:6379/0"))


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def relay(websocket: WebSocket) -> None:
    await websocket.accept()
    channel = websocket.query_params["channel"]
    async with broadcast.subscribe(channel) as subscriber, anyio.create_task_group() as tasks:

        async def read() -> None:
            async for text in websocket.iter_text():
                await broadcast.publish(json.loads(text)["to"], text)
            tasks.cancel_scope.cancel()

        tasks.start_soon(read)
        await websocket.send_text('{"type": "ready"}')  # subscribed: what it is sent from now on arrives
        async for event in subscriber:  # type: ignore[union-attr]
            await websocket.send_text(event.message)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with broadcast:
        yield


app = Starlette(routes=[Route("/health", health), WebSocketRoute("/ws", relay)], lifespan=lifespan)
