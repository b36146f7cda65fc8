"""A socket's hello racing presence changes made on another process.

Hello stamps a presence floor, reads the user's chats and then reads who of
the counterparts is online (realtime/presence.py). Here the first process
reaches MariaDB through a proxy that holds back the answer to hello's read of
the counterparts (`TcpProxy.hold_reply`), and the second process, on the
same database and Redis, changes something while it is held.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.conftest import MYSQL_URL, through
from tests.live import (
    COUNTERPARTS_READ,
    RedisServer,
    Server,
    call,
    chat_between,
    frames_until,
    next_frame,
    open_socket,
    send_frame,
    server_env,
    started_in_thread,
)
from tests.tcp_proxy import Hold, TcpProxy

pytestmark = [pytest.mark.mysql, pytest.mark.timeout(90)]


@pytest.fixture
async def two_processes(
    tmp_path: Path, database_proxy: TcpProxy, private_redis: RedisServer
) -> AsyncIterator[tuple[Server, Server]]:
    """The first process reaches MariaDB through the proxy, the second directly; both share one Redis."""
    uploads = tmp_path / "uploads"
    envs = [server_env(url, private_redis.url, uploads) for url in (through(database_proxy), MYSQL_URL)]
    async with started_in_thread(*envs) as (watched, direct):
        yield watched, direct


@asynccontextmanager
async def both_online(
    watched: Server, direct: Server
) -> AsyncIterator[tuple[Any, Any, str, ClientConnection, ClientConnection]]:
    """A chat, its renter's socket on the direct process and its owner's first on the watched one.

    The watched process has announced the owner (its read of the counterparts is done), so the
    owner's next socket there announces nothing and reads the counterparts only in its hello.
    """
    owner, renter, chat_id = await chat_between(direct, MYSQL_URL)
    renter_ws = await open_socket(direct, renter["token"])
    await next_frame(renter_ws, "hello")
    async with renter_ws, await open_socket(watched, owner["token"]) as first_tab:
        await next_frame(first_tab, "hello")
        assert (await next_frame(renter_ws, "presence"))["online"] is True
        yield owner, renter, chat_id, renter_ws, first_tab


async def held_at_its_read(hold: Hold) -> None:
    await asyncio.wait_for(hold.seen.wait(), 10)


async def test_a_block_committed_while_hello_reads_reaches_that_socket_as_offline(
    two_processes: tuple[Server, Server], database_proxy: TcpProxy
) -> None:
    async with both_online(*two_processes) as (owner, renter, chat_id, _, _):
        watched, direct = two_processes
        hold = database_proxy.hold_reply(COUNTERPARTS_READ)
        async with await open_socket(watched, owner["token"]) as second_tab:
            await held_at_its_read(hold)
            r = await call(direct, "POST", f"/api/chats/{chat_id}/block", owner["token"])
            assert r.status_code == 200, r.text
            hold.release()
            hello = await next_frame(second_tab, "hello")
            assert hello["online"] == [renter["user_id"]], "hello read the chats after the block: no race here"
            offline = await next_frame(second_tab, "presence")
            assert offline == {"type": "presence", "user_id": renter["user_id"], "online": False}


async def test_a_counterpart_who_comes_online_while_hello_reads_is_not_announced_twice(
    two_processes: tuple[Server, Server], database_proxy: TcpProxy
) -> None:
    async with both_online(*two_processes) as (owner, renter, chat_id, renter_ws, first_tab):
        watched, direct = two_processes
        await renter_ws.close()
        assert (await next_frame(first_tab, "presence"))["online"] is False
        hold = database_proxy.hold_reply(COUNTERPARTS_READ)
        async with await open_socket(watched, owner["token"]) as second_tab:
            await held_at_its_read(hold)
            async with await open_socket(direct, renter["token"]) as renter_ws:
                await next_frame(renter_ws, "hello")
                assert (await next_frame(first_tab, "presence"))["online"] is True  # announced while hello reads
                hold.release()
                hello = await next_frame(second_tab, "hello")
                assert hello["online"] == [renter["user_id"]]
                await renter_ws.send(send_frame(chat_id, "Sent after that hello"))
                frames = await frames_until(second_tab, "message")
                assert [f for f in frames if f["type"] == "presence"] == [], "hello.online already said so"
