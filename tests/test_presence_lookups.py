"""A presence lookup that Redis fails is answered from one process alone, and read again later.

The first process reaches Redis through a proxy that holds back the reply to
the one lookup naming a user its sockets never held (`TcpProxy.hold_reply`):
the lookup times out and that process answers from its own sockets, which
leaves out the counterpart connected to the second process. Each test checks
that the answer it got was that partial one, then that the socket is put
right by a later read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from realtime.delivery import PRESENCE_RETRY_SECONDS
from realtime.presence_stamps import REDIS_TIMEOUT_SECONDS, user_key
from tests.conftest import database_for
from tests.live import (
    RedisServer,
    Server,
    call,
    chat_between,
    drain_hello,
    frames_until,
    make_property,
    next_frame,
    open_socket,
    register,
    server_env,
    started_in_thread,
)
from tests.tcp_proxy import Hold, TcpProxy

pytestmark = [pytest.mark.timeout(90)]

# The failed lookup's timeout, then the socket's next read of its counterparts, with room for a busy machine.
RECHECKED_SECONDS = REDIS_TIMEOUT_SECONDS + PRESENCE_RETRY_SECONDS + 5


@pytest.fixture
async def two_processes(
    tmp_path: Path, private_redis: RedisServer, redis_proxy: TcpProxy
) -> AsyncIterator[tuple[Server, Server, str]]:
    """The first process reaches Redis through the proxy, the second directly; one database."""
    database = database_for(tmp_path)
    envs = [
        server_env(database, url, tmp_path / "uploads")
        for url in (f"redis://127.0.0.1:{redis_proxy.port}/0", private_redis.url)
    ]
    async with started_in_thread(*envs) as (proxied, direct):
        yield proxied, direct, database


def failing_lookup_of(proxy: TcpProxy, user: dict[str, Any]) -> Hold:
    """The next Redis request through the proxy naming the user's presence gets no reply."""
    return proxy.hold_reply(user_key(user["user_id"]).encode())


async def told_each_other(
    renter_ws: ClientConnection, owner_ws: ClientConnection, renter: dict[str, Any], owner: dict[str, Any]
) -> tuple[list[bool], list[bool]]:
    """What the owner's socket was told of the renter's presence, and the renter's of the owner's, up to
    each one's first presence frame."""
    told: list[list[bool]] = []
    for ws, other in ((owner_ws, renter), (renter_ws, owner)):
        frames = await frames_until(ws, "presence", timeout=RECHECKED_SECONDS)
        told.append([f["online"] for f in frames if f["type"] == "presence" and f["user_id"] == other["user_id"]])
    return told[0], told[1]


@asynccontextmanager
async def both_on(server: Server, *users: dict[str, Any]) -> AsyncIterator[list[ClientConnection]]:
    """A socket of each user on `server`, each opened once the one before is past its hello."""
    sockets: list[ClientConnection] = []
    try:
        for user in users:
            sockets.append(await open_socket(server, user["token"]))
            await drain_hello(sockets[-1])
        yield sockets
    finally:
        for ws in sockets:
            await ws.close()


async def test_a_hello_whose_lookup_failed_learns_later_who_is_online_elsewhere(
    two_processes: tuple[Server, Server, str], redis_proxy: TcpProxy
) -> None:
    proxied, direct, database = two_processes
    owner, renter, _ = await chat_between(direct, database)
    async with both_on(direct, renter):
        failed = failing_lookup_of(redis_proxy, renter)
        async with await open_socket(proxied, owner["token"]) as owner_ws:
            hello = await next_frame(owner_ws, "hello")
            assert failed.seen.is_set() and hello["online"] == []  # the partial answer
            frame = await next_frame(owner_ws, "presence", timeout=RECHECKED_SECONDS)
    assert frame == {"type": "presence", "user_id": renter["user_id"], "online": True}


async def test_a_new_chat_whose_lookup_failed_shows_each_side_online_to_the_other_later(
    two_processes: tuple[Server, Server, str], redis_proxy: TcpProxy
) -> None:
    proxied, direct, _ = two_processes
    owner, renter = await register(direct, "owner"), await register(direct, "renter")
    property_id = await make_property(direct, owner)
    async with both_on(direct, renter, owner) as (renter_ws, owner_ws):
        failed = failing_lookup_of(redis_proxy, renter)
        body = {"property_id": property_id, "initial_message": "Is it still available?"}
        r = await call(proxied, "POST", "/api/chats/initiate", renter["token"], json=body)
        assert r.status_code == 200, r.text
        assert failed.seen.is_set()
        told = await told_each_other(renter_ws, owner_ws, renter, owner)
    assert told == ([True], [True])


async def test_a_block_whose_lookup_failed_shows_each_side_offline_to_the_other_later(
    two_processes: tuple[Server, Server, str], redis_proxy: TcpProxy
) -> None:
    proxied, direct, database = two_processes
    owner, renter, chat_id = await chat_between(direct, database)
    async with both_on(direct, renter, owner) as (renter_ws, owner_ws):
        assert (await next_frame(renter_ws, "presence"))["online"] is True  # the owner, who came after
        failed = failing_lookup_of(redis_proxy, renter)
        r = await call(proxied, "POST", f"/api/chats/{chat_id}/block", owner["token"])
        assert r.status_code == 200, r.text
        assert failed.seen.is_set()
        told = await told_each_other(renter_ws, owner_ws, renter, owner)
    assert told == ([False], [False])
