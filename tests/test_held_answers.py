"""Races made certain: the database's answer to one statement is held back while something else happens.

The server is a real uvicorn process whose MariaDB connections go through a
TCP proxy in the test's own event loop (`TcpProxy.hold_reply`): the held
statement has run and keeps its locks, the app waits for its answer, and the
test acts in between.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from realtime.socket import MAX_SYNCS_WAITING
from tests.conftest import through
from tests.live import Server, call, chat_between, frames_until, next_frame, open_socket
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.mysql, pytest.mark.timeout(90)]


async def test_opening_a_chat_shows_no_message_newer_than_what_it_marked_read(
    proxied_server: Server, database_proxy: TcpProxy
) -> None:
    """A message sent while the owner opens the chat is either shown read or not shown, never shown unread."""
    owner, renter, chat_id = await chat_between(proxied_server, through(database_proxy))
    hold = database_proxy.hold_reply(b"UPDATE chats SET owner_read_seq")  # opening marks the renter's message read
    opening = asyncio.create_task(call(proxied_server, "GET", f"/api/chats/{chat_id}", owner["token"]))
    await asyncio.wait_for(hold.seen.wait(), 10)
    body = {"message": "Sent while the owner opened the chat"}
    sending = asyncio.create_task(
        call(proxied_server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json=body)
    )
    await asyncio.sleep(0.3)  # the send waits for the chat's lock, which the opening holds
    database_proxy.reply_delay = 0.5  # from here on, time enough for the send to commit between two statements
    hold.release()
    opened = await opening
    database_proxy.reply_delay = 0.0
    assert (await sending).status_code == 201
    assert opened.status_code == 200, opened.text
    detail = opened.json()
    unread = [m["seq"] for m in detail["messages"] if m["sender_id"] == renter["user_id"] and not m["is_read"]]
    assert (unread, detail["unread_count"]) == ([], 0), detail
    left_unread = 0 if 2 in {m["seq"] for m in detail["messages"]} else 1  # the new message, if not shown
    totals = await call(proxied_server, "GET", "/api/chats/unread-count", owner["token"])
    assert totals.json()["unread_count"] == left_unread


async def test_syncs_sent_while_one_is_answered_wait_their_turn_up_to_a_bound(
    proxied_server: Server, database_proxy: TcpProxy
) -> None:
    """Each gets its own `synced`, in turn; past MAX_SYNCS_WAITING a client that stops reading cannot queue more."""
    _, renter, chat_id = await chat_between(proxied_server, through(database_proxy))
    async with await open_socket(proxied_server, renter["token"]) as renter_ws:
        await next_frame(renter_ws, "hello")
        sync = json.dumps({"type": "sync", "chats": {chat_id: 0}})
        hold = database_proxy.hold_reply(b"SELECT chats.id, chats.status, chats.last_seq")  # chats.statuses
        await renter_ws.send(sync)
        await asyncio.wait_for(hold.seen.wait(), 10)
        for _ in range(MAX_SYNCS_WAITING):  # the last of these is one too many
            await renter_ws.send(sync)
        hold.release()
        frames = [await next_frame(renter_ws) for _ in range(MAX_SYNCS_WAITING + 2)]
        seen = [(f["type"], f.get("message", {}).get("seq"), f.get("code")) for f in frames]
        answers = [("message", 1, None), *[("synced", None, None)] * MAX_SYNCS_WAITING]
        assert seen == [*answers, ("error", None, "rate_limited")], seen  # the first is answered whole
        await renter_ws.send(sync)  # with the others answered, the next is taken: nothing this socket did not send
        assert await frames_until(renter_ws, "synced") == [{"type": "synced"}]
