"""The WebSocket protocol against a real uvicorn process, with real `websockets` clients."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.conftest import REDIS_URL, database_for
from tests.live import (
    Server,
    call,
    chat_between,
    closed_with,
    frames_until,
    make_property,
    next_frame,
    open_socket,
    post_messages,
    register,
    send_frame,
    server_env,
)

pytestmark = pytest.mark.timeout(60)


async def test_send_is_acked_then_delivered_to_every_socket_of_both(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    async with (
        await open_socket(server, renter["token"]) as tab1,
        await open_socket(server, renter["token"]) as tab2,
        await open_socket(server, owner["token"]) as owner_ws,
    ):
        for ws in (tab1, tab2, owner_ws):
            await next_frame(ws, "hello")
        await tab1.send(send_frame(chat_id, "Is parking included?", "c-1"))
        sender_frames: dict[str, dict[str, Any]] = {}
        while len(sender_frames) < 2:  # the ack and the message, in whichever order they land
            frame = await next_frame(tab1)
            if frame["type"] in ("ack", "message"):
                sender_frames[frame["type"]] = frame
        ack = sender_frames["ack"]
        assert ack["client_id"] == "c-1" and ack["message"]["seq"] == 2
        assert ack["message"]["message"] == "Is parking included?" and ack["message"]["sender_type"] == "renter"
        assert sender_frames["message"]["message"]["message_id"] == ack["message"]["message_id"]
        for ws in (tab2, owner_ws):
            delivered = (await next_frame(ws, "message"))["message"]
            assert delivered["message_id"] == ack["message"]["message_id"] and delivered["seq"] == 2
        badge = await next_frame(owner_ws, "badge")
        assert badge == {"type": "badge", "unread_messages": 2, "unread_notifications": 1}


async def test_read_receipts_and_badges(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    async with (
        await open_socket(server, renter["token"]) as renter_ws,
        await open_socket(server, owner["token"]) as owner_ws,
    ):
        await next_frame(renter_ws, "hello")
        await next_frame(owner_ws, "hello")
        await owner_ws.send(json.dumps({"type": "read", "chat_id": chat_id, "up_to_seq": 1}))
        receipt = await next_frame(renter_ws, "read")
        assert receipt == {"type": "read", "chat_id": chat_id, "reader_id": owner["user_id"], "up_to_seq": 1}
        assert (await next_frame(owner_ws, "badge"))["unread_messages"] == 0
        # REST changes push badges too: marking the notification read.
        notes = (await call(server, "GET", "/api/notifications", owner["token"])).json()["notifications"]
        await call(server, "POST", f"/api/notifications/{notes[0]['notification_id']}/read", owner["token"])
        assert (await next_frame(owner_ws, "badge")) == {
            "type": "badge",
            "unread_messages": 0,
            "unread_notifications": 0,
        }


async def test_replying_reads_the_chat_and_the_writers_tabs_get_a_badge(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)  # the renter's "Hi" is unread
    async with (
        await open_socket(server, owner["token"]) as writing,
        await open_socket(server, owner["token"]) as other_tab,
        await open_socket(server, renter["token"]) as renter_ws,
    ):
        assert (await next_frame(other_tab, "hello"))["unread_messages"] == 1
        for ws in (writing, renter_ws):
            await next_frame(ws, "hello")
        await writing.send(send_frame(chat_id, "Yes, it is", "reply-1"))
        receipt = await next_frame(renter_ws, "read")
        assert (receipt["reader_id"], receipt["up_to_seq"]) == (owner["user_id"], 2)
        assert (await next_frame(other_tab, "badge"))["unread_messages"] == 0
        r = await call(server, "GET", "/api/chats/unread-count", owner["token"])
        assert r.json()["unread_count"] == 0


async def test_typing_reaches_the_counterpart_only(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    stranger = await register(server)
    async with (
        await open_socket(server, renter["token"]) as renter_ws,
        await open_socket(server, owner["token"]) as owner_ws,
        await open_socket(server, stranger["token"]) as stranger_ws,
    ):
        for ws in (renter_ws, owner_ws, stranger_ws):
            await next_frame(ws, "hello")
        await renter_ws.send(json.dumps({"type": "typing", "chat_id": chat_id}))
        assert await next_frame(owner_ws, "typing") == {
            "type": "typing",
            "chat_id": chat_id,
            "user_id": renter["user_id"],
        }
        await stranger_ws.send(json.dumps({"type": "typing", "chat_id": chat_id}))
        assert (await next_frame(stranger_ws, "error"))["code"] == "forbidden"


async def test_refused_frames_get_error_frames_and_store_nothing(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    stranger = await register(server)
    async with await open_socket(server, renter["token"]) as ws, await open_socket(server, stranger["token"]) as other:
        await next_frame(ws, "hello")
        await next_frame(other, "hello")
        refusals = [
            ("not json at all", "bad_frame", None),
            (json.dumps([1, 2]), "bad_frame", None),
            (json.dumps({"type": "shout"}), "bad_frame", None),
            (json.dumps({"type": "send", "chat_id": chat_id, "client_id": "c-9"}), "bad_frame", "c-9"),
            (json.dumps({"type": "read", "chat_id": chat_id, "up_to_seq": "all"}), "bad_frame", None),
            (json.dumps({"type": "read", "chat_id": chat_id, "up_to_seq": True}), "bad_frame", None),
            (json.dumps({"type": "read", "chat_id": chat_id, "up_to_seq": "1"}), "bad_frame", None),
            (json.dumps({"type": "sync", "chats": {chat_id: 0.0}}), "bad_frame", None),
            (send_frame(chat_id, "x" * 4001, "c-long"), "too_long", "c-long"),
            (send_frame(chat_id, "x" * 4000 + "  ", "c-padded"), "too_long", "c-padded"),  # spaces count, as by REST
            (send_frame(chat_id, "   ", "c-blank"), "bad_frame", "c-blank"),
            (send_frame(chat_id, "x" * 4001, " c-long "), "too_long", " c-long "),  # echoed as sent
            (send_frame(chat_id, "hi", "   "), "bad_frame", "   "),
            (send_frame(chat_id, "\u200b\u200b", "c-invisible"), "bad_frame", "c-invisible"),
            (send_frame(chat_id, "I pay at most 20k\x00", "c-nul"), "bad_frame", "c-nul"),
            (send_frame("no-such-chat", "hi", "c-404"), "forbidden", "c-404"),
            # MariaDB's collation matches ids whatever their case: a variant is no id of ours.
            (send_frame(chat_id.upper(), "hi", "c-case"), "forbidden", "c-case"),
            (json.dumps({"type": "typing", "chat_id": chat_id.upper()}), "forbidden", None),
            (json.dumps({"type": "read", "chat_id": chat_id.upper(), "up_to_seq": 1}), "forbidden", None),
        ]
        for raw, code, client_id in refusals:
            await ws.send(raw)
            error = await next_frame(ws, "error")
            assert error["code"] == code, (raw[:40], error)
            assert error.get("client_id") == client_id and error["detail"]
        await other.send(send_frame(chat_id, "let me in", "c-x"))
        assert (await next_frame(other, "error"))["code"] == "forbidden"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_frame(ws, "pong")) == {"type": "pong"}  # the socket is still open
    r = await call(server, "POST", f"/api/chats/{chat_id.upper()}/messages", renter["token"], json={"message": "hi"})
    assert r.status_code == 404, r.text
    history = (await call(server, "GET", f"/api/chats/{chat_id}/messages", owner["token"])).json()["messages"]
    assert [m["seq"] for m in history] == [1]


async def test_a_client_id_retry_is_acked_with_the_first_copy(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        await ws.send(send_frame(chat_id, "once", "retry-1"))
        first = await next_frame(ws, "ack")
    async with await open_socket(server, renter["token"]) as ws:  # the retry after a dropped connection
        await next_frame(ws, "hello")
        await ws.send(send_frame(chat_id, "once", "retry-1"))
        again = await next_frame(ws, "ack")
        # Stored trimmed, as by REST, so this is a retry too; the ack echoes the client_id as this frame had it.
        await ws.send(send_frame(chat_id, "once", " retry-1 "))
        padded = await next_frame(ws, "ack")
    assert again["message"]["message_id"] == first["message"]["message_id"] == padded["message"]["message_id"]
    assert padded["client_id"] == " retry-1 " and padded["message"]["client_id"] == "retry-1"
    history = (await call(server, "GET", f"/api/chats/{chat_id}/messages", owner["token"])).json()["messages"]
    assert [m["seq"] for m in history] == [1, 2]


async def burst(server: Server, database_url: str, count: int) -> tuple[list[str], set[str]]:
    """Send `count` messages at once from one socket: the client_ids refused as rate_limited, and those stored."""
    owner, renter, chat_id = await chat_between(server, database_url)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        for n in range(count):
            await ws.send(send_frame(chat_id, f"spam {n}", f"s-{n}"))
        outcomes: dict[str, str] = {}
        while len(outcomes) < count:
            frame = await next_frame(ws)
            if frame["type"] == "ack":
                outcomes[frame["client_id"]] = "ack"
            elif frame["type"] == "error":
                outcomes[frame["client_id"]] = frame["code"]
    refused = [c for c, outcome in outcomes.items() if outcome == "rate_limited"]
    assert list(outcomes.values()).count("ack") == count - len(refused)
    history = (await call(server, "GET", f"/api/chats/{chat_id}/messages?limit=100", owner["token"])).json()
    stored = {m["client_id"] for m in history["messages"]} - {None}
    assert stored.isdisjoint(refused) and len(stored) == count - len(refused)
    return refused, stored


async def test_sends_past_the_rate_limit_are_refused(server: Server, database_url: str) -> None:
    refused, _ = await burst(server, database_url, 30)
    assert 1 <= len(refused) <= 10


async def test_no_more_than_the_limit_passes_within_one_second(server: Server, database_url: str) -> None:
    """Paced at about 40 a second after an idle spell, not in one burst: 20 pass, not 20 plus what refilled."""
    _, renter, chat_id = await chat_between(server, database_url)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        await asyncio.sleep(1.1)
        for n in range(38):
            await ws.send(send_frame(chat_id, f"paced {n}", f"p-{n}"))
            await asyncio.sleep(0.025)
        outcomes: dict[str, str] = {}
        while len(outcomes) < 38:
            frame = await next_frame(ws)
            if frame["type"] in ("ack", "error"):
                outcomes[frame["client_id"]] = frame["type"] if frame["type"] == "ack" else frame["code"]
    assert set(outcomes.values()) == {"ack", "rate_limited"}
    assert list(outcomes.values()).count("ack") <= 22  # 20, and up to two for a client that fell behind its pace


async def test_the_send_limit_is_a_setting(tmp_path: Path) -> None:
    database = database_for(tmp_path)
    env = server_env(database, REDIS_URL or "memory://", tmp_path / "uploads") | {"WS_SENDS_PER_SECOND": "5"}
    server = Server(env).start()
    try:
        refused, _ = await burst(server, database, 12)
    finally:
        server.stop()
    assert 5 <= len(refused) <= 7  # 5 in the first second; at the default 20, none


async def test_sends_made_just_before_the_tab_closes_are_stored(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        for n in range(8):
            await ws.send(send_frame(chat_id, f"last words {n}", f"bye-{n}"))
    await asyncio.sleep(1)
    history = (await call(server, "GET", f"/api/chats/{chat_id}/messages?limit=100", owner["token"])).json()
    assert [m["client_id"] for m in history["messages"][1:]] == [f"bye-{n}" for n in range(8)]


async def test_sync_sends_each_message_once_around_what_came_live(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    for n in (2, 3):
        r = await call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json={"message": f"m{n}"})
        assert r.status_code == 201, r.text
    async with await open_socket(server, owner["token"]) as ws:
        assert (await next_frame(ws, "hello"))["chats"][0]["last_seq"] == 3
        r = await call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json={"message": "m4"})
        assert (await next_frame(ws, "message"))["message"]["seq"] == 4  # live, before the client syncs
        await ws.send(json.dumps({"type": "sync", "chats": {chat_id: 1}}))
        first = await frames_until(ws, "synced")
        await ws.send(json.dumps({"type": "sync", "chats": {chat_id: 1}}))  # asked again: all of it was sent
        again = await frames_until(ws, "synced")
    assert [f["message"]["seq"] for f in first if f["type"] == "message"] == [2, 3]
    assert [f for f in again if f["type"] == "message"] == []


async def synced_seqs(ws: ClientConnection, chats: dict[str, int]) -> list[int]:
    await ws.send(json.dumps({"type": "sync", "chats": chats}))
    return [f["message"]["seq"] for f in await frames_until(ws, "synced") if f["type"] == "message"]


async def test_sync_sends_nothing_again_of_a_chat_that_began_after_hello(server: Server) -> None:
    owner, renter = await register(server, "owner"), await register(server, "renter")
    property_id = await make_property(server, owner)
    async with await open_socket(server, owner["token"]) as ws:
        assert (await next_frame(ws, "hello"))["chats"] == []
        opened = {"property_id": property_id, "initial_message": "Hi"}
        chat_id = (await call(server, "POST", "/api/chats/initiate", renter["token"], json=opened)).json()["chat_id"]
        await post_messages(server, renter, chat_id, range(2, 4))
        assert [(await next_frame(ws, "message"))["message"]["seq"] for _ in range(3)] == [1, 2, 3]  # live
        assert await synced_seqs(ws, {chat_id: 0}) == []


async def test_a_sync_past_the_chats_end_hides_no_later_message(server: Server, database_url: str) -> None:
    """A client's stale local state (say, from another deployment) claims seqs the chat has not reached."""
    owner, renter, chat_id = await chat_between(server, database_url)
    other = await register(server)
    body = {"property_id": await make_property(server, owner), "initial_message": "Hi"}
    other_chat = (await call(server, "POST", "/api/chats/initiate", other["token"], json=body)).json()["chat_id"]
    async with await open_socket(server, owner["token"]) as ws:
        await next_frame(ws, "hello")
        assert await synced_seqs(ws, {chat_id: 5}) == []
        await post_messages(server, renter, chat_id, range(2, 5))
        assert [(await next_frame(ws, "message"))["message"]["seq"] for _ in range(3)] == [2, 3, 4]
        assert await synced_seqs(ws, {chat_id: 1}) == []  # all of them came live
        # Past what a seq column holds, up to what a browser's numbers hold exactly: still the chat's end,
        # and the sync's other chats are served.
        assert await synced_seqs(ws, {chat_id: 2**53 - 1, other_chat: 0}) == [1]
        await post_messages(server, renter, chat_id, range(5, 6))
        assert (await next_frame(ws, "message"))["message"]["seq"] == 5
        await ws.send(json.dumps({"type": "read", "chat_id": chat_id, "up_to_seq": 2**53 - 1}))
        while (await next_frame(ws, "badge"))["unread_messages"] != 1:  # the other chat's first message alone
            pass


async def test_a_frame_over_64_kb_closes_with_1008(server: Server) -> None:
    renter = await register(server)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        await ws.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
        assert await closed_with(ws) == 1008


async def test_a_flood_of_refused_frames_closes_with_1008(server: Server) -> None:
    renter = await register(server)
    async with await open_socket(server, renter["token"]) as ws:
        await next_frame(ws, "hello")
        for _ in range(60):
            await ws.send("nonsense")
        assert await closed_with(ws) == 1008


async def test_a_reconnecting_client_gets_100_missed_messages_with_sync(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    for n in range(100):  # sent by REST while the renter is away
        r = await call(server, "POST", f"/api/chats/{chat_id}/messages", owner["token"], json={"message": f"m{n}"})
        assert r.status_code == 201, r.text
    async with await open_socket(server, renter["token"]) as ws:
        hello = await next_frame(ws, "hello")
        assert hello["chats"] == [{"chat_id": chat_id, "last_seq": 101, "unread_count": 100}]
        await ws.send(json.dumps({"type": "sync", "chats": {chat_id: 1}}))
        frames = await frames_until(ws, "synced")
    seqs = [f["message"]["seq"] for f in frames if f["type"] == "message"]
    assert seqs == list(range(2, 102))
    assert [f["message"]["message"] for f in frames if f["type"] == "message"][:2] == ["m0", "m1"]


async def test_sync_refuses_chats_of_others(server: Server, database_url: str) -> None:
    _, _, chat_id = await chat_between(server, database_url)
    stranger = await register(server)
    async with await open_socket(server, stranger["token"]) as ws:
        await next_frame(ws, "hello")
        await ws.send(json.dumps({"type": "sync", "chats": {chat_id: 0}}))
        frames = await frames_until(ws, "synced")
    assert [f["type"] for f in frames] == ["error", "synced"] and frames[0]["code"] == "forbidden"


async def test_rest_actions_are_pushed_live(server: Server, database_url: str) -> None:
    owner = await register(server, "owner")
    renter = await register(server)
    property_id = await make_property(server, owner)
    async with await open_socket(server, owner["token"]) as owner_ws:
        await next_frame(owner_ws, "hello")
        opened = await call(
            server,
            "POST",
            "/api/chats/initiate",
            renter["token"],
            json={"property_id": property_id, "initial_message": "Hi"},
        )
        chat_id = opened.json()["chat_id"]
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < 3:  # a message, a notification and a badge, in whatever order they land
            frame = await next_frame(owner_ws)
            seen.setdefault(frame["type"], frame)
        assert seen["message"]["message"]["chat_id"] == chat_id and seen["message"]["message"]["seq"] == 1
        assert seen["notification"]["notification"]["type"] == "new_chat"
        assert seen["badge"] == {"type": "badge", "unread_messages": 1, "unread_notifications": 1}
        await call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json={"message": "via REST"})
        assert (await next_frame(owner_ws, "message"))["message"]["message"] == "via REST"


async def test_concurrent_senders_reach_every_socket_in_order_once(server: Server, database_url: str) -> None:
    owner, renter, chat_id = await chat_between(server, database_url)
    async with (
        await open_socket(server, renter["token"]) as renter_ws,
        await open_socket(server, owner["token"]) as owner_ws,
        await open_socket(server, owner["token"]) as watcher,
    ):
        for ws in (renter_ws, owner_ws, watcher):
            await next_frame(ws, "hello")

        async def burst(ws: ClientConnection, tag: str) -> None:
            for n in range(15):
                await ws.send(send_frame(chat_id, f"{tag}{n}", f"{tag}-{n}"))
                await asyncio.sleep(0.06)  # under the 20-a-second limit

        rest = [
            call(server, "POST", f"/api/chats/{chat_id}/messages", owner["token"], json={"message": f"r{n}"})
            for n in range(10)
        ]
        await asyncio.gather(burst(renter_ws, "a"), burst(owner_ws, "b"), *rest)
        for ws in (renter_ws, owner_ws, watcher):
            seqs: list[int] = []
            while len(seqs) < 40:
                seqs.append((await next_frame(ws, "message"))["message"]["seq"])
            assert seqs == list(range(2, 42))
