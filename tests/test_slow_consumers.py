"""A socket that cannot keep up: cut off with 1013 without delaying others, and gone even if it never reads again."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from realtime.socket import CLOSE_SECONDS
from tests.conftest import REDIS_URL, database_for
from tests.live import Server, bearer, chat_between, next_frame, open_socket, server_env

pytestmark = [pytest.mark.timeout(120)]


# About 20 KB a frame, so a few hundred messages outgrow the kernel's socket buffers.
BULKY_TEXT = "€" * 3990
BULKY_FILES = [{"url": "/uploads/" + "a" * 480, "name": "n" * 255} for _ in range(10)]


def stalled_socket(server: Server, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads again.

    Raw TCP with a tiny receive buffer: a client library would keep reading
    into its own memory and hide the stall.
    """
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    raw.sendall(request.encode())
    head = b""
    while b"hello" not in head:
        head += raw.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head[:100]
    return raw


def drain_until_closed(raw: socket.socket) -> bytes:
    """Everything the server still sends, up to the end of the connection."""
    received = bytearray()
    raw.settimeout(30)
    while chunk := raw.recv(1 << 20):
        received += chunk
    raw.close()
    return bytes(received)


@contextmanager
def backlogged_server(tmp_path: Path, backlog: int) -> Iterator[tuple[Server, str]]:
    """One server whose sockets' mailboxes hold `backlog` events, and its database URL."""
    database = database_for(tmp_path)
    env = server_env(database, REDIS_URL or "memory://", tmp_path / "uploads") | {"WS_BACKLOG": str(backlog)}
    server = Server(env).start()
    try:
        yield server, database
    finally:
        server.stop()


async def test_a_slow_consumer_is_cut_off_without_delaying_others(tmp_path: Path) -> None:
    with backlogged_server(tmp_path, 128) as (server, database):
        owner, renter, chat_id = await chat_between(server, database)
        async with await open_socket(server, owner["token"]) as fast:
            await next_frame(fast, "hello")
            stalled = await asyncio.to_thread(stalled_socket, server, owner["token"])
            total = 400
            received: list[int] = []
            loop = asyncio.get_running_loop()
            # From each POST's start, not its answer: a fan-out held up by the stalled socket holds up the
            # answers too, and a copy that came before its own late answer would have counted as no delay.
            posted_at: dict[int, float] = {}  # message number -> when its POST began
            delays: list[float] = []  # from then to the fast socket's copy

            async def read_fast() -> None:
                while len(received) < total:
                    message = (await next_frame(fast, "message", timeout=30))["message"]
                    received.append(message["seq"])
                    delays.append(loop.time() - posted_at[int(message["message"][:4])])

            async def write(http: httpx.AsyncClient, worker: int) -> None:
                for n in range(worker, total, 8):
                    body = {"message": f"{n:04d} " + BULKY_TEXT, "attachments": BULKY_FILES, "client_id": f"w-{n}"}
                    posted_at[n] = loop.time()
                    r = await http.post(f"/api/chats/{chat_id}/messages", json=body)
                    assert r.status_code == 201, r.text

            async with httpx.AsyncClient(base_url=server.http, headers=bearer(renter["token"]), timeout=30) as http:
                await asyncio.gather(read_fast(), *(write(http, w) for w in range(8)))
            assert received == list(range(2, total + 2))
            # Cutting the stalled socket off waits up to 5 s for its close frame: nobody else waits for that.
            assert max(delays) < CLOSE_SECONDS / 2, max(delays)
            tail = await asyncio.to_thread(drain_until_closed, stalled)
            # The close frame: opcode 0x88, then the code 1013 (0x03f5) and its reason.
            assert b"\x88" in tail and b"\x03\xf5Too far behind" in tail


def server_end_open(server: Server, client: socket.socket) -> bool:
    """Whether the server still holds its end of this client's connection open (Linux: /proc/net/tcp).

    Once the server closes its end, the kernel moves it out of ESTABLISHED (state 01), even while the
    bytes it still owes a client that reads nothing wait in the kernel's buffer.
    """
    ends = (f"{server.port:04X}", f"{client.getsockname()[1]:04X}")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, state = line.split()[1:4]
        if (local.rsplit(":", 1)[1], remote.rsplit(":", 1)[1]) == ends:
            return state == "01"
    return False


async def test_a_client_that_stops_reading_for_good_still_leaves(tmp_path: Path) -> None:
    """Cut off with 1013 though its close frame can never be written: it goes offline, and its connection goes."""
    with backlogged_server(tmp_path, 32) as (server, database):
        owner, renter, chat_id = await chat_between(server, database)
        async with await open_socket(server, renter["token"]) as watcher:
            await next_frame(watcher, "hello")
            stalled = await asyncio.to_thread(stalled_socket, server, owner["token"])
            assert (await next_frame(watcher, "presence"))["online"] is True
            async with httpx.AsyncClient(base_url=server.http, headers=bearer(renter["token"]), timeout=30) as http:
                for n in range(200):  # about 4 MB for a client that reads nothing
                    body = {"message": f"{n:04d} " + BULKY_TEXT, "attachments": BULKY_FILES}
                    assert (await http.post(f"/api/chats/{chat_id}/messages", json=body)).status_code == 201
            offline = await next_frame(watcher, "presence", timeout=30)
            assert offline == {"type": "presence", "user_id": owner["user_id"], "online": False}
        assert server_end_open(server, stalled)  # the close frame still waits for the client
        await asyncio.sleep(12)  # past the protocol's ABORT_SECONDS, still reading nothing
        assert not server_end_open(server, stalled)
        stalled.close()
