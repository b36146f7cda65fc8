"""A socket whose mailbox overflows while its hello is still being read: hello, then 1013.

The overflow closes the mailbox before the connection listens for that
(its `on_close` is set once hello is sent), so here it is the writer's
first read of the mailbox that must end the socket with 1013, which the
client answers with a reconnect and a sync, not a 1011 or a socket left open
without its events. The watched process reaches MariaDB through a proxy
that holds back hello's read while the counterpart, on the other process,
sends more messages than the socket's backlog holds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import MYSQL_URL, through
from tests.live import (
    COUNTERPARTS_READ,
    RedisServer,
    Server,
    chat_between,
    closed_with,
    next_frame,
    open_socket,
    send_frame,
    server_env,
    started_in_thread,
)
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.mysql, pytest.mark.timeout(90)]

BACKLOG = 16  # the least WS_BACKLOG accepts


@pytest.fixture
async def two_processes(
    tmp_path: Path, database_proxy: TcpProxy, private_redis: RedisServer
) -> AsyncIterator[tuple[Server, Server]]:
    """The first process reaches MariaDB through the proxy with a small backlog, the second directly."""
    uploads = tmp_path / "uploads"
    watched = server_env(through(database_proxy), private_redis.url, uploads) | {"WS_BACKLOG": str(BACKLOG)}
    async with started_in_thread(watched, server_env(MYSQL_URL, private_redis.url, uploads)) as (through_proxy, direct):
        yield through_proxy, direct


async def test_a_mailbox_that_overflows_during_hello_closes_the_socket_with_1013_after_it(
    two_processes: tuple[Server, Server], database_proxy: TcpProxy
) -> None:
    watched, direct = two_processes
    owner, renter, chat_id = await chat_between(direct, MYSQL_URL)
    async with await open_socket(watched, owner["token"]) as first_tab:  # announces the owner: no read held there
        await next_frame(first_tab, "hello")
        async with await open_socket(direct, renter["token"]) as renter_ws:
            await next_frame(renter_ws, "hello")
            hold = database_proxy.hold_reply(COUNTERPARTS_READ)
            async with await open_socket(watched, owner["token"]) as second_tab:
                await asyncio.wait_for(hold.seen.wait(), 10)
                for n in range(BACKLOG + 1):  # a message event each, whatever else the owner is sent
                    await renter_ws.send(send_frame(chat_id, f"while you connect {n}", f"c-{n}"))
                    await next_frame(renter_ws, "ack")
                for n in range(BACKLOG + 1):  # the first tab has them all: the events have reached that process
                    assert (await next_frame(first_tab, "message"))["message"]["message"] == f"while you connect {n}"
                hold.release()
                assert (await next_frame(second_tab, "hello"))["type"] == "hello"
                assert await closed_with(second_tab) == 1013
            await first_tab.send(json.dumps({"type": "ping"}))  # the process and the other tab carry on
            assert (await next_frame(first_tab, "pong"))["type"] == "pong"
