"""Both sides opening the same chat at once, on MariaDB: one chat, one first message, one notification.

SQLite's `BEGIN IMMEDIATE` runs the openings one after another, so only
MariaDB lets their INSERTs race on the chat's unique key.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import MakeProperty, Register, bearer

pytestmark = [pytest.mark.mysql, pytest.mark.timeout(60)]


def initiate(client: httpx.AsyncClient, user: dict[str, Any], property_id: str, renter_id: str | None) -> Any:
    """The renter's /initiate, or with `renter_id` the owner's /initiate-with-renter."""
    body = {"property_id": property_id, "initial_message": f"Hello from {user['user_id']}"}
    path = "/api/chats/initiate" if renter_id is None else "/api/chats/initiate-with-renter"
    body |= {} if renter_id is None else {"renter_id": renter_id}
    return client.post(path, json=body, headers=bearer(user["token"]))


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
