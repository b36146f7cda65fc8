"""Hostile input on /ws and in JSON bodies: frames that inflate past the limit, deep nesting, lone surrogates.

Each gets the protocol's answer (an `error` frame on an open socket, 4401 before authenticating, 1008 for a
frame over 64 KB, 422 by REST), stores nothing, and leaves the server serving.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from tests.live import (
    Server,
    bearer,
    call,
    chat_between,
    closed_with,
    deflate_of,
    frames_until,
    next_frame,
    open_socket,
    register,
    send_frame,
)

pytestmark = pytest.mark.timeout(60)

LONE_SURROGATE = "hi \ud800"  # json.dumps writes it as the escape "\ud800", which json.loads accepts


async def still_serving(server: Server) -> None:
    renter = await register(server)
    async with await open_socket(server, renter["token"]) as ws:
        assert (await next_frame(ws))["type"] == "hello"


async def test_a_compressed_frame_that_inflates_past_64_kb_closes_with_1008(server: Server) -> None:
    renter = await register(server)
    async with await open_socket(server, renter["token"], max_size=None) as ws:
        await next_frame(ws, "hello")
        deflate_of(ws)  # the frame below goes compressed
        # 17 MB of spaces is about 17 KB on the wire; uvicorn's own limit (16 MB) would inflate it, then 1009.
        await ws.send(json.dumps({"type": "ping", "pad": " " * (17 * 2**20)}))
        assert await closed_with(ws) == 1008
    await still_serving(server)


async def test_the_64_kb_limit_counts_bytes_not_characters(server: Server) -> None:
    renter = await register(server)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        await ws.send('{"type": "ping", "pad": "' + "€" * 30_000 + '"}')  # 30,000 characters, 90,000 bytes
        assert await closed_with(ws) == 1008


async def test_deeply_nested_json_is_a_bad_frame_and_the_socket_stays_open(server: Server) -> None:
    renter = await register(server)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        await ws.send("[" * 20_000)
        assert (await next_frame(ws, "error"))["code"] == "bad_frame"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_frame(ws, "pong")) == {"type": "pong"}


async def test_a_lone_surrogate_is_a_bad_frame_and_nothing_is_stored(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        await ws.send(send_frame(chat_id, LONE_SURROGATE, "c-surrogate"))
        assert (await next_frame(ws, "error"))["code"] == "bad_frame"
        await ws.send(json.dumps({"type": "send", "chat_id": chat_id, "message": "ok", "client_id": "\ud800"}))
        assert (await next_frame(ws, "error"))["code"] == "bad_frame"
        await ws.send(send_frame(chat_id, "Still here", "c-after"))
        assert (await next_frame(ws, "ack"))["message"]["seq"] == 2
    history = (await call(server, "GET", f"/api/chats/{chat_id}/messages", owner["token"])).json()["messages"]
    assert [m["message"] for m in history] == ["Hi", "Still here"]


async def test_a_message_is_stored_as_typed_by_socket_as_by_rest(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    typed = "  def visit():\n      return 'Sunday'  \n"  # leading and trailing white space, indentation
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        await ws.send(send_frame(chat_id, typed, "c-code"))
        assert (await next_frame(ws, "ack"))["message"]["message"] == typed
    r = await call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json={"message": typed})
    assert r.status_code == 201, r.text
    history = (await call(server, "GET", f"/api/chats/{chat_id}/messages", owner["token"])).json()["messages"]
    assert [m["message"] for m in history] == ["Hi", typed, typed]


async def test_text_beyond_ascii_reaches_the_counterpart_as_typed_and_unescaped(
    server: Server, database_url: str
) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    typed = 'नमस्ते 🏠 "2BHK"\\ \u2028 \t \x01 \x7f'  # quotes, a backslash, a line separator, control characters
    async with (
        await open_socket(server, renter["token"]) as renter_ws,
        await open_socket(server, owner["token"]) as owner_ws,
    ):
        await next_frame(renter_ws, "hello")
        await next_frame(owner_ws, "hello")
        await renter_ws.send(send_frame(chat_id, typed, "c-text"))
        assert (await next_frame(renter_ws, "ack"))["message"]["message"] == typed
        while (frame := json.loads(raw := await asyncio.wait_for(owner_ws.recv(), 10)))["type"] != "message":
            pass
    assert frame["message"]["message"] == typed
    assert "नमस्ते 🏠" in raw  # sent as UTF-8, not as six-byte escapes


async def test_a_sync_naming_a_thousand_chats_of_others_gets_one_error_naming_them(
    server: Server, database_url: str
) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    others = [str(uuid.uuid4()) for _ in range(999)]
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        await ws.send(json.dumps({"type": "sync", "chats": {chat_id: 0} | dict.fromkeys(others, 0)}))
        frames = await frames_until(ws, "synced")
    assert [frame["type"] for frame in frames] == ["message", "error", "synced"]
    assert frames[1]["code"] == "forbidden" and frames[1]["chat_ids"] == others
    assert frames[1]["detail"] == "Not a participant of 999 chats"


async def test_a_rest_body_with_a_lone_surrogate_is_a_422(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    body = json.dumps({"message": LONE_SURROGATE})
    headers = bearer(renter["token"]) | {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=server.http) as http:
        r = await http.post(f"/api/chats/{chat_id}/messages", content=body, headers=headers)
    assert r.status_code == 422, r.text
    history = (await call(server, "GET", f"/api/chats/{chat_id}/messages", owner["token"])).json()["messages"]
    assert [m["message"] for m in history] == ["Hi"]


@pytest.mark.parametrize(
    "first",
    ["[" * 5_000, json.dumps({"type": "auth", "token": "a\ud800"})],
    ids=["deep nesting", "lone surrogate"],
)
async def test_a_hostile_auth_frame_closes_with_4401(server: Server, first: str) -> None:
    async with await open_socket(server) as ws:
        await ws.send(first)
        assert await closed_with(ws) == 4401
    await still_serving(server)
