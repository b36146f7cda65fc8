"""bench/relay_app.py, the baseline bench/fanout.py measures Homer against, delivers what it is sent.

A relay that dropped messages would turn every ratio in bench/README.md into
a comparison with a bug. Its patches for broadcaster's faults are proved
here on a private Redis, each relay process with as few channels as the
fault needs to show.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.live import PROJECT, UVICORN_WS, RedisServer, free_port, wait_until_listening

Relay = Callable[[], AbstractAsyncContextManager[int]]


@pytest.fixture
async def relay(redis_server: RedisServer) -> AsyncIterator[Relay]:
    """Starts relay processes on the private Redis; each yields its port and is stopped on leaving."""
    await redis_server.start()

    @asynccontextmanager
    async def start() -> AsyncIterator[int]:
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "--app-dir", "bench", "relay_app:app", *UVICORN_WS]
        command += ["--port", str(port), "--log-level", "warning"]
        env = os.environ | {"RELAY_BROADCAST_URL": redis_server.url}
        process = subprocess.Popen(command, cwd=PROJECT, env=env)
        try:
            await wait_until_listening(port, process, seconds=30)
            yield port
        finally:
            process.terminate()
            process.wait(10)

    yield start


async def relay_socket(port: int, channel: str) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{port}/ws?channel={channel}")
    assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "ready"}
    return ws


async def received(ws: ClientConnection) -> dict[str, str]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 5)))


async def test_each_process_delivers_to_its_only_channel(relay: Relay) -> None:
    # broadcaster's listener, woken by the first subscribe before redis-py has recorded the channel,
    # stops listening until a second subscribe: a process whose only socket is this one heard nothing.
    async with relay() as here, relay() as there:
        renter, owner = await relay_socket(here, "renter"), await relay_socket(there, "owner")
        await renter.send(json.dumps({"to": "owner", "id": "1"}))
        assert await received(owner) == {"to": "owner", "id": "1"}
        await owner.send(json.dumps({"to": "renter", "id": "2"}))
        assert await received(renter) == {"to": "renter", "id": "2"}


async def test_sockets_subscribing_to_one_channel_at_once_all_receive(relay: Relay) -> None:
    # Unserialized, concurrent subscribes to one new channel corrupt broadcaster's subscriber table.
    async with relay() as port:
        sockets = await asyncio.gather(*(relay_socket(port, "busy") for _ in range(20)))
        await sockets[0].send(json.dumps({"to": "busy", "id": "all"}))
        frames = await asyncio.gather(*(received(ws) for ws in sockets))
        assert frames == [{"to": "busy", "id": "all"}] * 20
