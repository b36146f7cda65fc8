"""A database that stops answering without dropping its connections: a silent network path, a hung server.

Nothing resets such a connection, so only a timeout can tell it from a slow
one. The server is a real uvicorn process whose MariaDB connections go
through a TCP proxy in the test's own event loop (`TcpProxy.freeze`,
`hold_replies_of`), with short driver timeouts set in its DATABASE_URL, as an
operator would set theirs.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import persistence.engine as engine_module
from persistence.engine import short_lived_engine
from realtime.presence import ANNOUNCE_SECONDS
from tests.conftest import through
from tests.live import (
    Server,
    chat_between,
    chat_with_sockets,
    message_at,
    next_frame,
    open_socket,
    send_frame,
    server_env,
    started_in_thread,
)
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.mysql, pytest.mark.timeout(90)]

TIMEOUT_SECONDS = 2  # the driver's read and connect timeouts, in the server's DATABASE_URL
TABS = 5  # a renter's sockets, each sending while the database hangs


@pytest.fixture
async def server(tmp_path: Path, database_proxy: TcpProxy) -> AsyncIterator[Server]:
    timeouts = {"read_timeout": str(TIMEOUT_SECONDS), "connect_timeout": str(TIMEOUT_SECONDS)}
    env = server_env(through(database_proxy, **timeouts), "memory://", tmp_path / "uploads")
    async with started_in_thread(env) as (started,):
        yield started


async def test_a_send_on_a_connection_gone_silent_is_stored_on_a_fresh_one_and_acked(
    server: Server, database_proxy: TcpProxy
) -> None:
    chat_id, renter_ws, owner_ws = await chat_with_sockets(server, through(database_proxy))
    await renter_ws.send(send_frame(chat_id, "Hello", "first"))
    assert (await next_frame(renter_ws, "ack"))["message"]["seq"] == 2  # the batcher now holds its connection
    silent = database_proxy.hold_replies_of(b"")  # every open connection stops answering; new ones work
    try:
        await renter_ws.send(send_frame(chat_id, "Anyone there?", "silent-1"))
        ack = await next_frame(renter_ws, "ack", timeout=4 * TIMEOUT_SECONDS + 5)
    finally:
        silent.release()
    assert (ack["client_id"], ack["message"]["seq"]) == ("silent-1", 3)  # its CALL ran: the first copy is acked
    assert (await message_at(owner_ws, 3))["client_id"] == "silent-1"
    await owner_ws.send(send_frame(chat_id, "Yes"))
    assert (await next_frame(owner_ws, "ack"))["message"]["seq"] == 4  # nothing was stored twice


async def test_sends_while_the_database_hangs_fail_in_bounded_time_and_their_retries_are_stored_once(
    server: Server, database_proxy: TcpProxy
) -> None:
    owner, renter, chat_id = await chat_between(server, through(database_proxy))
    owner_ws = await open_socket(server, owner["token"])
    tabs = [await open_socket(server, renter["token"]) for _ in range(TABS)]
    for ws in (owner_ws, *tabs):
        await next_frame(ws, "hello")
    await tabs[0].send(send_frame(chat_id, "Hello", "first"))
    assert (await next_frame(tabs[0], "ack"))["message"]["seq"] == 2  # the batcher now holds its connection
    await next_frame(owner_ws, "badge")  # after the message: no recount of the owner's is left to fail below
    loop = asyncio.get_running_loop()
    hung = database_proxy.freeze()  # statements still reach the database; no answer comes back
    try:
        started = loop.time()
        for n, ws in enumerate(tabs):
            await ws.send(send_frame(chat_id, f"Try {n}", f"hung-{n}"))
        errors = [await next_frame(ws, "error", timeout=30) for ws in tabs]
        took = loop.time() - started
    finally:
        hung.release()
    assert [(e["code"], e["client_id"]) for e in errors] == [("unavailable", f"hung-{n}") for n in range(TABS)]
    # The held connection's timeout, the pool's ping of another and a fresh one's greeting; the sends batched
    # meanwhile then fail after one more connection's timeout, not one each.
    assert took < 5 * TIMEOUT_SECONDS, took

    database_proxy.cut()  # the hung connections go: the database answers again
    for n, ws in enumerate(tabs):
        await ws.send(send_frame(chat_id, f"Try {n}", f"hung-{n}"))
    acks = {a["client_id"]: a["message"]["seq"] for a in [await next_frame(ws, "ack") for ws in tabs]}
    assert sorted(acks.values()) == list(range(3, 3 + TABS)), acks  # the one whose CALL ran: its first copy
    delivered = [await message_at(owner_ws, seq) for seq in range(3, 3 + TABS)]
    assert {m["client_id"]: m["seq"] for m in delivered} == acks
    await owner_ws.send(send_frame(chat_id, "All arrived"))
    assert (await next_frame(owner_ws, "ack"))["message"]["seq"] == 3 + TABS  # nothing was stored twice


@pytest.mark.parametrize(("query", "gives_up_after"), [({}, 1), ({"read_timeout": "2"}, 2)])
async def test_a_statement_on_a_silent_connection_fails_after_the_read_timeout_the_url_may_set(
    database_proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch, query: dict[str, str], gives_up_after: int
) -> None:
    monkeypatch.setattr(engine_module, "MYSQL_READ_TIMEOUT_SECONDS", 1)  # the default, shortened for the test
    url = through(database_proxy, **query)
    loop = asyncio.get_running_loop()
    async with short_lived_engine(url) as engine, engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        silent = database_proxy.hold_replies_of(b"")
        started = loop.time()
        with pytest.raises(OperationalError) as failed:
            await connection.execute(text("SELECT 1"))
        took = loop.time() - started
        silent.release()
    assert failed.value.connection_invalidated  # the pool replaces it; the send batcher stores again
    assert gives_up_after <= took < gives_up_after + 1, took


async def test_a_process_stopped_while_the_database_hangs_exits_in_bounded_time(
    tmp_path: Path, database_proxy: TcpProxy
) -> None:
    """Its closing sockets' presence announcements read the database: each gives up after ANNOUNCE_SECONDS."""
    env = server_env(through(database_proxy), "memory://", tmp_path / "uploads")  # the default timeouts
    server = await asyncio.to_thread(Server(env).start)
    try:
        _, renter_ws, owner_ws = await chat_with_sockets(server, through(database_proxy))
        hung = database_proxy.freeze()
        assert server.process is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        server.process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(server.process.wait, 60)
        took = loop.time() - started
        hung.release()
    finally:
        await asyncio.to_thread(server.stop)
    assert exit_code == -signal.SIGTERM  # uvicorn ends by raising the signal it handled
    assert took < ANNOUNCE_SECONDS + 3, took
