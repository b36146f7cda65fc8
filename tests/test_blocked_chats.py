"""A blocked chat cuts the live link between its two sides: no messages, typing, read receipts or presence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from realtime.delivery import REORDER_SECONDS
from tests.live import (
    Server,
    call,
    chat_between,
    frames_for,
    frames_until,
    make_property,
    next_frame,
    open_socket,
    send_frame,
)

pytestmark = pytest.mark.timeout(60)


async def block(server: Server, user: dict[str, Any], chat_id: str) -> None:
    r = await call(server, "POST", f"/api/chats/{chat_id}/block", user["token"])
    assert r.status_code == 200 and r.json()["status"] == "blocked", r.text


async def next_presence(ws: ClientConnection, *, online: bool) -> dict[str, Any]:
    while (frame := await next_frame(ws, "presence"))["online"] != online:
        pass
    return frame


async def second_chat(server: Server, owner: dict[str, Any], renter: dict[str, Any]) -> str:
    """Another chat between the same two, about another of the owner's listings."""
    property_id = await make_property(server, owner)
    body = {"property_id": property_id, "initial_message": "And this one?"}
    r = await call(server, "POST", "/api/chats/initiate", renter["token"], json=body)
    assert r.status_code == 200 and r.json()["created"], r.text
    return r.json()["chat_id"]  # type: ignore[no-any-return]


async def test_a_blocked_chat_refuses_sends(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    await block(server, owner, chat_id)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        await ws.send(send_frame(chat_id, "hello?", "c-b"))
        error = await next_frame(ws, "error")
        assert error["code"] == "forbidden" and error["client_id"] == "c-b"


async def test_typing_stops_reaching_the_counterpart_once_the_chat_is_blocked(
    server: Server, database_url: str
) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    async with (
        await open_socket(server, renter["token"]) as renter_ws,
        await open_socket(server, owner["token"]) as owner_ws,
    ):
        for ws in (renter_ws, owner_ws):
            await next_frame(ws, "hello")
        await renter_ws.send(json.dumps({"type": "typing", "chat_id": chat_id}))
        await next_frame(owner_ws, "typing")
        await block(server, owner, chat_id)
        # Published after the block's event to the renter: once it is here, that event was delivered.
        assert (await next_frame(owner_ws, "badge"))["unread_messages"] == 0

        await renter_ws.send(json.dumps({"type": "typing", "chat_id": chat_id}))
        assert (await next_frame(renter_ws, "error"))["code"] == "forbidden"
        await owner_ws.send(json.dumps({"type": "ping"}))
        after_block = await frames_until(owner_ws, "pong")
        assert "typing" not in [frame["type"] for frame in after_block], after_block


async def test_reading_a_blocked_chat_moves_the_readers_state_and_tells_the_counterpart_nothing(
    server: Server, database_url: str
) -> None:
    owner, renter, blocked = await chat_between(server, database_url)
    other = await second_chat(server, owner, renter)
    async with await open_socket(server, renter["token"]) as renter_ws:
        await next_frame(renter_ws, "hello")
        await block(server, owner, blocked)
        r = await call(server, "POST", f"/api/chats/{blocked}/read", owner["token"], json={})
        assert r.json() == {"chat_id": blocked, "up_to_seq": 1, "unread_count": 0}, r.text
        r = await call(server, "POST", f"/api/chats/{other}/read", owner["token"], json={})
        assert r.status_code == 200, r.text
        # Both reads publish to the renter's channel in order: a receipt for the blocked chat, or a
        # presence change from the block (the two still share a chat), would have arrived first.
        frames = await frames_until(renter_ws, "read")
        assert frames[-1] == {"type": "read", "chat_id": other, "reader_id": owner["user_id"], "up_to_seq": 1}
        assert "presence" not in [frame["type"] for frame in frames], frames
    # Read back where the read did not itself mark anything (opening the chat, below, does).
    r = await call(server, "GET", f"/api/chats/{blocked}/messages", renter["token"])
    messages = r.json()["messages"]
    assert [m["seq"] for m in messages] == [1], r.text  # the history stays readable
    assert messages[0]["is_read"] is True, r.text  # the owner's read of the blocked chat was stored
    r = await call(server, "GET", f"/api/chats/{blocked}", owner["token"])
    assert r.json()["unread_count"] == 0, r.text


async def test_a_block_takes_each_side_offline_for_the_other(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    async with (
        await open_socket(server, owner["token"]) as owner_ws,
        await open_socket(server, renter["token"]) as renter_ws,
    ):
        owner_hello = await next_frame(owner_ws, "hello")
        assert (await next_frame(renter_ws, "hello"))["online"] == [owner["user_id"]]
        if owner_hello["online"] != [renter["user_id"]]:
            await next_frame(owner_ws, "presence")  # the renter came online after the owner's hello
        await block(server, renter, chat_id)
        for ws, other in ((owner_ws, renter), (renter_ws, owner)):
            # The renter may also hear of the owner coming online: announced a moment after the socket opened.
            offline = await next_presence(ws, online=False)
            assert offline == {"type": "presence", "user_id": other["user_id"], "online": False}
        # Neither is online for the other any more, nor is the blocked chat one with news.
        async with await open_socket(server, renter["token"]) as second_tab:
            hello = await next_frame(second_tab, "hello")
            assert (hello["online"], hello["chats"]) == ([], []), hello


async def test_sync_refuses_a_blocked_chat_and_says_so(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    await block(server, owner, chat_id)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        await ws.send(json.dumps({"type": "sync", "chats": {chat_id: 0}}))
        frames = await frames_until(ws, "synced")
    blocked = {"type": "error", "code": "forbidden", "detail": f"Chat {chat_id} is blocked", "chat_ids": [chat_id]}
    assert frames[0] == blocked, frames
    assert [frame["type"] for frame in frames] == ["error", "synced"]


async def test_a_retry_into_a_chat_blocked_since_its_first_copy_is_acked_and_delivered_to_nobody(
    server: Server, database_url: str
) -> None:
    """REALTIME.md: a retried client_id acks the copy stored the first time; the block keeps it from being sent."""
    owner, renter, chat_id = await chat_between(server, database_url)
    other_chat = await second_chat(server, owner, renter)
    async with await open_socket(server, renter["token"]) as renter_ws:
        await next_frame(renter_ws, "hello")
        await renter_ws.send(send_frame(chat_id, "Is the flat still free?", "before-block"))
        first = (await next_frame(renter_ws, "ack"))["message"]
        await block(server, owner, chat_id)
        async with await open_socket(server, owner["token"]) as owner_ws:  # opened after the block: no seqs held
            await next_frame(owner_ws, "hello")
            await renter_ws.send(send_frame(chat_id, "Is the flat still free?", "before-block"))  # its ack was lost
            again = await next_frame(renter_ws, "ack")
            assert again["message"] == first
            r = await call(
                server, "POST", f"/api/chats/{chat_id}/messages", renter["token"],
                json={"message": "Is the flat still free?", "client_id": "before-block"},
            )  # fmt: skip
            assert r.status_code in (200, 201) and r.json()["message_id"] == first["message_id"], r.text
            await renter_ws.send(send_frame(other_chat, "About the other one", "after-block"))
            # Published after the retries by the same process, and then past the wait for a missing seq (a
            # socket holding no seq of the chat would have filled its history from the database).
            for ws in (owner_ws, renter_ws):
                frames = await frames_until(ws, "message") + await frames_for(ws, REORDER_SECONDS + 0.5)
                messages = [f["message"] for f in frames if f["type"] == "message"]
                assert [(m["chat_id"], m["client_id"]) for m in messages] == [(other_chat, "after-block")]
            await renter_ws.send(send_frame(chat_id, "Hello?", "new-after-block"))
            assert (await next_frame(renter_ws, "error"))["code"] == "forbidden"
    r = await call(server, "GET", f"/api/chats/{chat_id}/messages", owner["token"], params={"after_seq": 0})
    assert [m["seq"] for m in r.json()["messages"]] == [1, 2], r.text  # stored once, nothing after the block
