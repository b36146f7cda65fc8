"""`/ws` while the database is down: a close code the client retries on, and sockets again once it is back.

The server is a real uvicorn process whose database is reached through a
TCP proxy in the test's own event loop, cut and restored by the test.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from realtime.socket import CLOSE_TRY_AGAIN
from tests.conftest import through
from tests.live import Server, next_frame, open_socket, register, server_env
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.mysql, pytest.mark.timeout(90)]


async def test_a_socket_that_cannot_reach_the_database_is_closed_with_1013_and_the_next_one_works(
    tmp_path: Path, database_proxy: TcpProxy
) -> None:
    env = server_env(through(database_proxy), "memory://", tmp_path / "uploads")
    # Started from a thread: the proxy forwards the server's queries from this test's event loop.
    server = await asyncio.to_thread(Server(env).start)
    try:
        user = await register(server, "renter")
        await database_proxy.stop()

        ws = await open_socket(server, user["token"])
        with pytest.raises(ConnectionClosed) as closed:
            await next_frame(ws, "hello")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_TRY_AGAIN, closed.value

        await database_proxy.start()
        ws = await open_socket(server, user["token"])
        assert (await next_frame(ws, "hello"))["user_id"] == user["user_id"]
        await ws.close()
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_socket_whose_reads_fail_while_the_database_is_down_is_closed_with_1013(
    tmp_path: Path, database_proxy: TcpProxy
) -> None:
    env = server_env(through(database_proxy), "memory://", tmp_path / "uploads")
    server = await asyncio.to_thread(Server(env).start)
    try:
        user = await register(server, "renter")
        ws = await open_socket(server, user["token"])
        await next_frame(ws, "hello")
        await database_proxy.stop()

        await ws.send(json.dumps({"type": "sync", "chats": {}}))  # reads the user's chats
        with pytest.raises(ConnectionClosed) as closed:
            await next_frame(ws, "synced")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_TRY_AGAIN, closed.value
    finally:
        await asyncio.to_thread(server.stop)
