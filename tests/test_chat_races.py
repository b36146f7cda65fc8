"""Chat writes racing each other on MariaDB: openings of one chat, and reads of one chat from two tabs.

SQLite's `BEGIN IMMEDIATE` runs writes one after another, so only MariaDB
lets them race: openings on the chat's unique key, reads on its row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from persistence.engine import short_lived_engine
from settings import Settings
from tests.conftest import MakeProperty, Register, bearer, initiate, open_chat, send, unread

pytestmark = [pytest.mark.mysql, pytest.mark.timeout(60)]


async def opened_once(
    client: httpx.AsyncClient, owner: dict[str, Any], renter: dict[str, Any], property_id: str, answers: list[Any]
) -> dict[str, Any]:
    """Every opening got the one chat, one created it, which holds one message; returns the creator's answer."""
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200]
    assert len({r.json()["chat_id"] for r in answers}) == 1
    created = [r.json() for r in answers if r.json()["created"]]
    assert len(created) == 1, [r.json() for r in answers]
    chat_id = created[0]["chat_id"]
    page = await client.get(f"/api/chats/{chat_id}/messages", headers=bearer(owner["token"]))
    assert [m["seq"] for m in page.json()["messages"]] == [1]
    notes = []
    for user in (owner, renter):
        listed = await client.get("/api/notifications", headers=bearer(user["token"]))
        notes += [n for n in listed.json()["notifications"] if n["action_url"] == f"/chats/{chat_id}"]
    assert [n["type"] for n in notes] == ["new_chat"]
    contacts = (await client.get(f"/api/properties/{property_id}/analytics", headers=bearer(owner["token"]))).json()
    me = (await client.get("/api/auth/me", headers=bearer(renter["token"]))).json()
    counted = 1 if created[0]["initiated_by"] == "renter" else 0  # only a renter's opening is a contact
    assert contacts["total_contacts"] == me["contacts_used"] == counted
    return created[0]


async def test_concurrent_owner_openings_make_one_chat(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    property_id = await make_property(owner)
    answers = await asyncio.gather(*(initiate(client, owner, property_id, renter["user_id"]) for _ in range(10)))
    created = await opened_once(client, owner, renter, property_id, answers)
    assert {r.json()["initiated_by"] for r in answers} == {created["initiated_by"]} == {"owner"}


async def test_renter_and_owner_opening_at_once_make_one_chat(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    for n in range(6):  # whichever side wins, the other gets the same chat
        renter = await register()
        property_id = await make_property(owner)
        openings = [initiate(client, renter, property_id, None) for _ in range(3)]
        openings += [initiate(client, owner, property_id, renter["user_id"]) for _ in range(3)]
        answers = await asyncio.gather(*(openings if n % 2 else openings[::-1]))
        created = await opened_once(client, owner, renter, property_id, answers)
        assert {r.json()["initiated_by"] for r in answers} == {created["initiated_by"]}


@asynccontextmanager
async def row_held(settings: Settings, chat_id: str) -> AsyncIterator[None]:
    """The chat's row locked by another transaction (a slow writer) for the block, so requests queue on it."""
    async with short_lived_engine(settings.database_url) as engine, engine.connect() as conn, conn.begin():
        await conn.execute(text("SELECT id FROM chats WHERE id = :id FOR UPDATE"), {"id": chat_id})
        yield


async def test_two_tabs_reading_at_once_never_move_the_read_mark_back(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], settings: Settings
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    for text_ in ("two", "three", "four"):
        assert (await send(client, renter, chat_id, message=text_)).status_code == 201
    path = f"/api/chats/{chat_id}/read"
    async with row_held(settings, chat_id):
        all_read = asyncio.create_task(client.post(path, json={"up_to_seq": 4}, headers=bearer(owner["token"])))
        await asyncio.sleep(0.3)  # queued first on the row
        older = asyncio.create_task(client.post(path, json={"up_to_seq": 2}, headers=bearer(owner["token"])))
        await asyncio.sleep(0.3)
    assert (await all_read).json() == {"chat_id": chat_id, "up_to_seq": 4, "unread_count": 0}
    assert (await older).json() == {"chat_id": chat_id, "up_to_seq": 4, "unread_count": 0}
    assert await unread(client, owner) == 0


async def test_opening_a_chat_while_ones_own_send_commits_leaves_nothing_unread(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], settings: Settings
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    async with row_held(settings, chat_id):
        sending = asyncio.create_task(send(client, owner, chat_id, message="Yes, still available"))
        await asyncio.sleep(0.3)
        opening = asyncio.create_task(client.get(f"/api/chats/{chat_id}", headers=bearer(owner["token"])))
        await asyncio.sleep(0.3)
    assert (await sending).status_code == 201 and (await opening).status_code == 200
    assert await unread(client, owner) == 0
