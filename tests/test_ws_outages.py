"""`/ws` while the database is down: a close code the client retries on, and sockets again once it is back.

The server is a real uvicorn process whose database is reached through a
TCP proxy in the test's own event loop, cut and restored by the test.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed

from persistence.engine import short_lived_engine
from persistence.models import Message
from realtime.limits import FLOOD_REFUSALS
from realtime.socket import CLOSE_TRY_AGAIN
from tests.conftest import MYSQL_URL, through
from tests.live import (
    Server,
    call,
    chat_between,
    chat_with_sockets,
    frames_until,
    next_frame,
    open_socket,
    register,
    send_frame,
)
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.mysql, pytest.mark.timeout(90)]


@pytest.fixture
def server(proxied_server: Server) -> Server:
    return proxied_server


async def until_stored(chat_id: str, count: int) -> None:
    """Wait until the chat holds `count` messages, read straight from MariaDB, past the proxy."""
    async with short_lived_engine(MYSQL_URL) as engine:
        for _ in range(200):
            async with engine.connect() as connection:
                query = select(func.count()).select_from(Message).where(Message.chat_id == chat_id)
                if await connection.scalar(query) == count:
                    return
            await asyncio.sleep(0.02)
    pytest.fail(f"the chat never held {count} messages")


async def test_a_socket_that_cannot_reach_the_database_is_closed_with_1013_and_the_next_one_works(
    server: Server, database_proxy: TcpProxy
) -> None:
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


async def test_a_socket_whose_reads_fail_while_the_database_is_down_is_closed_with_1013(
    server: Server, database_proxy: TcpProxy
) -> None:
    user = await register(server, "renter")
    ws = await open_socket(server, user["token"])
    await next_frame(ws, "hello")
    await database_proxy.stop()

    await ws.send(json.dumps({"type": "sync", "chats": {}}))  # reads the user's chats
    with pytest.raises(ConnectionClosed) as closed:
        await next_frame(ws, "synced")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_TRY_AGAIN, closed.value


async def test_a_send_while_the_database_is_down_is_refused_delivered_to_nobody_and_its_retry_takes_the_next_seq(
    server: Server, database_proxy: TcpProxy
) -> None:
    chat_id, renter_ws, owner_ws = await chat_with_sockets(server, through(database_proxy))
    await database_proxy.stop()

    client_id = str(uuid.uuid4())
    await renter_ws.send(send_frame(chat_id, "Is it still available?", client_id))
    error = await next_frame(renter_ws, "error")
    assert (error["code"], error["client_id"]) == ("unavailable", client_id)

    await database_proxy.start()
    await renter_ws.send(send_frame(chat_id, "Is it still available?", client_id))
    assert (await next_frame(renter_ws, "ack"))["message"]["seq"] == 2  # the refused send took no seq
    delivered = await next_frame(owner_ws, "message")
    assert (delivered["message"]["seq"], delivered["message"]["message"]) == (2, "Is it still available?")


async def test_a_rest_send_while_the_database_is_down_gets_a_503_and_its_retry_is_stored(
    server: Server, database_proxy: TcpProxy
) -> None:
    owner, renter, chat_id = await chat_between(server, through(database_proxy))
    body = {"message": "Is it still available?"}
    await database_proxy.stop()
    refused = await call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json=body)
    assert (refused.status_code, refused.headers.get("retry-after")) == (503, "5"), refused.text
    assert refused.json() == {"detail": "Service unavailable; try again shortly"}

    await database_proxy.start()
    stored = await call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json=body)
    assert stored.status_code == 201 and stored.json()["seq"] == 2, stored.text


async def test_sends_refused_because_the_database_is_down_do_not_count_as_a_flood(
    server: Server, database_proxy: TcpProxy
) -> None:
    chat_id, renter_ws, owner_ws = await chat_with_sockets(server, through(database_proxy))
    await database_proxy.stop()
    for n in range(FLOOD_REFUSALS + 5):  # within the send rate: the server failed them, not the client
        await renter_ws.send(send_frame(chat_id, f"try {n}"))
        assert (await next_frame(renter_ws, "error"))["code"] == "unavailable"
        await asyncio.sleep(0.07)
    await database_proxy.start()
    await renter_ws.send(send_frame(chat_id, "Back again"))
    assert (await next_frame(renter_ws, "ack"))["message"]["seq"] == 2


async def test_a_slow_badge_recount_does_not_hold_up_the_frames_behind_it(
    server: Server, database_proxy: TcpProxy
) -> None:
    chat_id, renter_ws, owner_ws = await chat_with_sockets(server, through(database_proxy))
    database_proxy.reply_delay = 1.0  # every query now takes a second: the recount below too

    await owner_ws.send(send_frame(chat_id, "Yes, it is"))
    assert (await next_frame(renter_ws, "message"))["message"]["seq"] == 2
    # The message's badge recount started before that frame was written, and waits on the database.
    await renter_ws.send(json.dumps({"type": "ping"}))
    *before, badge = await frames_until(renter_ws, "badge")
    assert "pong" in [frame["type"] for frame in before], f"the pong waited behind the badge recount: {before}"
    assert (badge["unread_messages"], badge["unread_notifications"]) == (1, 0)


async def test_a_socket_whose_badge_recount_fails_is_closed_with_1013(server: Server, database_proxy: TcpProxy) -> None:
    chat_id, renter_ws, owner_ws = await chat_with_sockets(server, through(database_proxy))
    database_proxy.reply_delay = 1.0

    await owner_ws.send(send_frame(chat_id, "Yes, it is"))
    await next_frame(renter_ws, "message")
    await database_proxy.stop()  # the message's badge recount, under way, loses its connection

    with pytest.raises(ConnectionClosed) as closed:
        await next_frame(renter_ws, "badge")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_TRY_AGAIN, closed.value


async def test_a_badge_recount_right_after_a_database_restart_is_answered(
    server: Server, database_proxy: TcpProxy
) -> None:
    """The badge counter's held connection is dropped by the restart; the recount runs on a fresh one."""
    chat_id, renter_ws, owner_ws = await chat_with_sockets(server, through(database_proxy))
    await owner_ws.send(send_frame(chat_id, "Yes, it is"))
    assert (await next_frame(renter_ws, "badge"))["unread_messages"] == 1  # the counter now holds its connection
    database_proxy.cut()  # every connection dropped, the database back at once

    await owner_ws.send(send_frame(chat_id, "Still interested?"))
    assert (await next_frame(renter_ws, "message"))["message"]["seq"] == 3
    assert (await next_frame(renter_ws, "badge"))["unread_messages"] == 2


async def test_a_send_whose_commit_reply_is_lost_is_stored_once_acked_and_still_delivered(
    server: Server, database_proxy: TcpProxy
) -> None:
    """The connection drops after the database committed a send but before its answer arrived."""
    chat_id, renter_ws, owner_ws = await chat_with_sockets(server, through(database_proxy))
    await renter_ws.send(send_frame(chat_id, "Hello", "first"))  # the batcher now holds its connection
    assert (await next_frame(renter_ws, "ack"))["message"]["seq"] == 2
    assert (await next_frame(owner_ws, "message"))["message"]["seq"] == 2
    database_proxy.reply_delay = 3.0  # the next send reaches the database, commits, and its answer waits here
    await renter_ws.send(send_frame(chat_id, "Committed, answer lost", "lost-1"))
    await until_stored(chat_id, 3)
    database_proxy.reply_delay = 0.0
    database_proxy.cut()

    ack = await next_frame(renter_ws, "ack", timeout=15)  # stored again on a fresh connection: the first copy
    assert (ack["client_id"], ack["message"]["seq"]) == ("lost-1", 3)
    delivered = await next_frame(owner_ws, "message", timeout=15)
    assert (delivered["message"]["seq"], delivered["message"]["client_id"]) == (3, "lost-1")
    await owner_ws.send(send_frame(chat_id, "Got it"))
    assert (await next_frame(owner_ws, "ack"))["message"]["seq"] == 4  # nothing was stored twice


async def test_a_rest_send_without_client_id_whose_commit_reply_is_lost_is_stored_once(
    server: Server, database_proxy: TcpProxy
) -> None:
    """With no client_id to find, the copy is found by the message id the server chose before storing it."""
    owner, renter, chat_id = await chat_between(server, through(database_proxy))
    async with await open_socket(server, owner["token"]) as owner_ws:
        await next_frame(owner_ws, "hello")
        first = await call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json={"message": "Hi"})
        assert first.status_code == 201, first.text  # the batcher now holds its connection
        database_proxy.reply_delay = 0.5  # every answer waits: the send's commit's answer too, cut off below
        lost = asyncio.create_task(
            call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json={"message": "Lost answer"})
        )
        await until_stored(chat_id, 3)
        database_proxy.reply_delay = 0.0
        database_proxy.cut()
        r = await lost
        assert r.status_code == 201 and r.json()["seq"] == 3, r.text
        assert [(await next_frame(owner_ws, "message"))["message"]["seq"] for _ in range(2)] == [2, 3]
    history = await call(server, "GET", f"/api/chats/{chat_id}/messages", owner["token"])
    assert [(m["seq"], m["message"]) for m in history.json()["messages"]] == [(1, "Hi"), (2, "Hi"), (3, "Lost answer")]
