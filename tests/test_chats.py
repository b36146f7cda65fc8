"""Chat messages over REST: their seq, client_ids, who may read and write, history and read state.

Opening chats and the contact limit are in test_chat_openings.py; archive and block in test_chat_archive.py.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Chat, Message
from settings import Settings
from tests.conftest import MakeProperty, Register, bearer, open_chat, send
from tests.live import run_sql


async def test_concurrent_sends_get_gapless_seqs(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    sends = [send(client, user, chat_id, message=f"m{n}") for n in range(15) for user in (owner, renter)]
    results = await asyncio.gather(*sends)
    assert all(r.status_code == 201 for r in results), [r.text for r in results if r.status_code != 201]
    assert sorted(r.json()["seq"] for r in results) == list(range(2, 32))
    page = await client.get(f"/api/chats/{chat_id}/messages", params={"limit": 100}, headers=bearer(owner["token"]))
    assert [m["seq"] for m in page.json()["messages"]] == list(range(1, 32))


async def test_message_ids_grow_with_time(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    """UUIDv7 ids, whichever way a message is stored: new rows go to the end of the clustered index."""
    owner, renter, property_id = pair
    started = time.time_ns() // 1_000_000
    chat_id = await open_chat(client, renter, property_id)  # the first message, stored with the chat
    await asyncio.gather(*(send(client, owner, chat_id, message=f"m{n}") for n in range(6)))  # batched
    await asyncio.sleep(0.01)
    await send(client, renter, chat_id, message="alone")  # a lone send: one procedure call on MySQL
    finished = time.time_ns() // 1_000_000
    page = await client.get(f"/api/chats/{chat_id}/messages", headers=bearer(owner["token"]))
    ids = [uuid.UUID(m["message_id"]) for m in page.json()["messages"]]
    assert len(ids) == 8 and all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    millis = [i.int >> 80 for i in ids]  # in seq order
    assert started <= millis[0] and millis == sorted(millis) and millis[-1] <= finished
    assert millis[-1] > millis[0]


async def test_a_message_is_never_stamped_before_the_one_it_follows(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], settings: Settings
) -> None:
    """The chat's last message was stamped by a host whose clock runs an hour ahead of this one's."""
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    ahead = datetime.now(UTC) + timedelta(hours=1)

    async def stamp_ahead(session: AsyncSession) -> None:
        await session.execute(update(Chat).where(Chat.id == chat_id).values(last_message_at=ahead))
        await session.execute(update(Message).where(Message.chat_id == chat_id).values(created_at=ahead))

    await run_sql(settings.database_url, stamp_ahead)
    lone = await send(client, owner, chat_id, message="Still available")  # one procedure call on MySQL
    batched = await asyncio.gather(*(send(client, renter, chat_id, message=f"m{n}") for n in range(4)))
    assert all(r.status_code == 201 for r in [lone, *batched])
    stamps = {r.json()["seq"]: datetime.fromisoformat(r.json()["timestamp"]) for r in [lone, *batched]}
    assert stamps == dict.fromkeys(range(2, 7), ahead)
    listed = await client.get("/api/chats", headers=bearer(owner["token"]))
    (chat,) = listed.json()["chats"]
    assert datetime.fromisoformat(chat["last_message_at"]) == ahead


async def test_a_client_id_retry_stores_once(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], settings: Settings
) -> None:
    _, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    first = await send(client, renter, chat_id, message="Can I visit on Sunday?", client_id="c-1")
    again = await send(client, renter, chat_id, message="Can I visit on Sunday?", client_id="c-1")
    racing = await asyncio.gather(*(send(client, renter, chat_id, message="race", client_id="c-2") for _ in range(5)))
    assert first.status_code == again.status_code == 201
    assert again.json()["message_id"] == first.json()["message_id"] and again.json()["seq"] == 2
    assert len({r.json()["message_id"] for r in racing}) == 1 and racing[0].json()["seq"] == 3
    rows: list[Any] = []

    async def collect(session: Any) -> None:
        rows.extend(await session.scalars(select(Message.seq).where(Message.chat_id == chat_id)))

    await run_sql(settings.database_url, collect)
    assert sorted(rows) == [1, 2, 3]


async def test_client_ids_differing_only_in_case_or_accent_are_different_messages(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    """A client_id is compared exactly (past its surrounding whitespace), on every database."""
    _, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    ids = ["msg-a1", "MSG-A1", "café", "cafe"]
    sent = [await send(client, renter, chat_id, message=f"as {i}", client_id=i) for i in ids]
    assert [r.status_code for r in sent] == [201] * len(ids), [r.text for r in sent]
    assert [r.json()["seq"] for r in sent] == [2, 3, 4, 5]
    retry = await send(client, renter, chat_id, message="as MSG-A1", client_id="MSG-A1")
    assert retry.status_code == 201 and retry.json()["message_id"] == sent[1].json()["message_id"]


async def test_a_client_id_used_in_another_chat_is_refused_and_stores_nothing(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    chat_a, chat_b, chat_c = [await open_chat(client, renter, await make_property(owner)) for _ in range(3)]
    first = await send(client, renter, chat_a, message="to A", client_id="1")
    assert first.status_code == 201, first.text
    elsewhere = await send(client, renter, chat_b, message="to B", client_id="1")
    assert elsewhere.status_code == 409, elsewhere.text
    assert elsewhere.json() == {"detail": 'client_id "1" was already used for a message in another chat'}
    retry = await send(client, renter, chat_a, message="to A", client_id="1")
    assert retry.status_code == 201 and retry.json()["message_id"] == first.json()["message_id"]
    assert (await send(client, owner, chat_b, message="mine", client_id="1")).status_code == 201  # per sender
    # Both in one batch: the first in arrival order is stored, the other refused.
    both = await asyncio.gather(*(send(client, renter, chat, message="m", client_id="2") for chat in (chat_b, chat_c)))
    assert sorted(r.status_code for r in both) == [201, 409], [r.text for r in both]
    won = chat_b if both[0].status_code == 201 else chat_c
    for chat_id in (chat_a, chat_b, chat_c):
        page = await client.get(f"/api/chats/{chat_id}/messages", headers=bearer(renter["token"]))
        stored = [(m["sender_type"], m["client_id"]) for m in page.json()["messages"]]
        expected = [("renter", None)] + {chat_a: [("renter", "1")], chat_b: [("owner", "1")], chat_c: []}[chat_id]
        assert stored == expected + ([("renter", "2")] if chat_id == won else []), chat_id


async def test_only_participants_read_or_write(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], register: Register
) -> None:
    _, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    stranger = await register()
    for method, path, body in (
        ("GET", f"/api/chats/{chat_id}", None),
        ("GET", f"/api/chats/{chat_id}/messages", None),
        ("POST", f"/api/chats/{chat_id}/messages", {"message": "hi"}),
        ("POST", f"/api/chats/{chat_id}/read", {}),
        ("POST", f"/api/chats/{chat_id}/archive", None),
        ("POST", f"/api/chats/{chat_id}/block", None),
    ):
        r = await client.request(method, path, json=body, headers=bearer(stranger["token"]))
        assert r.status_code == 403, (path, r.text)
        unknown = await client.request(
            method, path.replace(chat_id, "nope"), json=body, headers=bearer(renter["token"])
        )
        assert unknown.status_code == 404, (path, unknown.text)


async def test_message_validation(client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]) -> None:
    _, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    for body in (
        {"message": ""},
        {"message": "\u200b"},  # zero-width space: nothing to show
        {"message": "\ufeff \u200e\n"},  # BOM, space, a direction mark
        {"message": "\u3164 \u2800"},  # a Hangul filler, the blank Braille pattern: letters that show nothing
        {"message": "\ufe0f\u034f"},  # a variation selector and the grapheme joiner, with nothing to join
        {"message": "hi\x00"},
        {"message": "x" * 4001},
        {"message": 42},
        {"message": "ok", "attachments": "file.png"},
        {"message": "ok", "attachments": [{"url": "javascript:alert(1)"}]},
        {"message": "ok", "attachments": ["/uploads/a\x00.png"]},
        {"message": "ok", "seq": 99},
        {"message": "ok", "attachments": [{"url": "/uploads/a.png", "size": True}]},
        {"message": "ok", "attachments": [{"url": "/uploads/a.png", "size": 2**53}]},
    ):
        assert (await send(client, renter, chat_id, **body)).status_code == 422, body
    ok = await send(client, renter, chat_id, message="x" * 4000, attachments=[{"url": "/uploads/a.png", "name": "a"}])
    assert ok.status_code == 201 and ok.json()["attachments"] == [{"url": "/uploads/a.png", "name": "a"}]
    for text in ("👍", "\u200b hi", "👩\u200d💻", "❤\ufe0f"):  # visible, with invisible characters kept as typed
        ok = await send(client, renter, chat_id, message=text)
        assert ok.status_code == 201 and ok.json()["message"] == text
    history = (await client.get(f"/api/chats/{chat_id}/messages", headers=bearer(renter["token"]))).json()
    assert [m["seq"] for m in history["messages"]] == [1, 2, 3, 4, 5, 6]  # nothing refused was stored


async def chat_up_to(client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], seq: int) -> str:
    """A chat the renter opened, with messages from both sides up to `seq`."""
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    for n in range(2, seq + 1):
        await send(client, owner if n % 2 else renter, chat_id, message=f"m{n}")
    return chat_id


async def test_history_pages_both_ways(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    chat_id = await chat_up_to(client, pair, 10)
    headers = bearer(pair[1]["token"])  # the renter's
    url = f"/api/chats/{chat_id}/messages"
    latest = (await client.get(url, params={"limit": 4}, headers=headers)).json()
    assert [m["seq"] for m in latest["messages"]] == [7, 8, 9, 10] and latest["has_more"] is True
    older = (await client.get(url, params={"limit": 4, "before_seq": 7}, headers=headers)).json()
    assert [m["seq"] for m in older["messages"]] == [3, 4, 5, 6] and older["has_more"] is True
    newer = (await client.get(url, params={"limit": 4, "after_seq": 8}, headers=headers)).json()
    assert [m["seq"] for m in newer["messages"]] == [9, 10] and newer["has_more"] is False
    past = (await client.get(url, params={"limit": 4, "before_seq": 2**40}, headers=headers)).json()
    assert [m["seq"] for m in past["messages"]] == [7, 8, 9, 10]  # a seq past the end counts as the end
    assert (await client.get(url, params={"after_seq": 2**40}, headers=headers)).json()["messages"] == []
    for params in ({"before_seq": 3, "after_seq": 1}, {"limit": 101}, {"limit": 0}, {"after_seq": -1}):
        assert (await client.get(url, params=params, headers=headers)).status_code == 422, params


async def test_the_chat_list_shows_the_latest_activity_first_a_page_at_a_time(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    chat_ids = [await open_chat(client, await register(), await make_property(owner)) for _ in range(3)]
    await send(client, owner, chat_ids[0], message="Still looking?")  # the oldest chat has the latest message
    url, headers = "/api/chats", bearer(owner["token"])
    first = (await client.get(url, params={"limit": 2}, headers=headers)).json()
    second = (await client.get(url, params={"limit": 2, "page": 2}, headers=headers)).json()
    assert [c["chat_id"] for c in first["chats"] + second["chats"]] == [chat_ids[0], chat_ids[2], chat_ids[1]]
    assert (first["total_count"], first["page"], first["has_more"]) == (3, 1, True)
    assert (second["total_count"], second["page"], second["has_more"]) == (3, 2, False)


async def test_opening_a_chat_shows_its_latest_fifty_messages_unless_asked_for_another_number(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    owner, _, _ = pair
    chat_id = await chat_up_to(client, pair, 52)
    url, headers = f"/api/chats/{chat_id}", bearer(owner["token"])
    detail = (await client.get(url, headers=headers)).json()
    assert [m["seq"] for m in detail["messages"]] == list(range(3, 53)) and detail["has_more_messages"] is True
    few = (await client.get(url, params={"limit": 5}, headers=headers)).json()
    assert [m["seq"] for m in few["messages"]] == list(range(48, 53))


async def test_a_read_mark_must_be_a_json_integer(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    await send(client, renter, chat_id, message="second")
    url, headers = f"/api/chats/{chat_id}/read", bearer(owner["token"])
    for seq in (True, "2", 2.0, -1, 2**53):
        refused = await client.post(url, json={"up_to_seq": seq}, headers=headers)
        assert refused.status_code == 422, seq
    unread = await client.get("/api/chats/unread-count", headers=headers)
    assert unread.json()["unread_count"] == 2  # nothing was marked read


async def test_reading_moves_unread_counts(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    for n in range(3):
        await send(client, renter, chat_id, message=f"more {n}")
    read = await client.post(f"/api/chats/{chat_id}/read", json={"up_to_seq": 2}, headers=bearer(owner["token"]))
    assert read.json() == {"chat_id": chat_id, "up_to_seq": 2, "unread_count": 2}
    backwards = await client.post(f"/api/chats/{chat_id}/read", json={"up_to_seq": 1}, headers=bearer(owner["token"]))
    assert backwards.json()["up_to_seq"] == 2  # read state never moves back
    owner_headers = bearer(owner["token"])
    detail = (await client.get(f"/api/chats/{chat_id}", headers=owner_headers)).json()
    assert detail["unread_count"] == 0 and [m["seq"] for m in detail["messages"]] == [1, 2, 3, 4]
    assert detail["has_more_messages"] is False and all(m["is_read"] for m in detail["messages"])
    for past in (999, 2**53 - 1):
        beyond = await client.post(f"/api/chats/{chat_id}/read", json={"up_to_seq": past}, headers=owner_headers)
        assert beyond.json()["up_to_seq"] == 4
    reply = await send(client, owner, chat_id, message="Yes, come on Sunday")
    assert reply.json()["is_read"] is False
    assert (await client.get("/api/chats/unread-count", headers=bearer(renter["token"]))).json()["unread_count"] == 1
