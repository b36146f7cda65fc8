"""The notification REST endpoints: listing, counts, marking read, and whose notifications they are."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import MakeProperty, Register, bearer, open_chat
from tests.live import Server, call, chat_between, next_frame, open_socket


async def notes(client: httpx.AsyncClient, user: dict[str, Any], **params: Any) -> dict[str, Any]:
    r = await client.get("/api/notifications", params=params, headers=bearer(user["token"]))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_an_owner_reads_their_notifications_one_then_all_and_nobody_else_can(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    for _ in range(3):  # each new chat notifies the owner
        await open_chat(client, renter, await make_property(owner))
    listed = await notes(client, owner, limit=2)
    assert (listed["total_count"], listed["unread_count"], listed["page"], listed["has_more"]) == (3, 3, 1, True)
    assert [n["type"] for n in listed["notifications"]] == ["new_chat", "new_chat"]
    first = listed["notifications"][0]["notification_id"]

    for stranger, status in ((renter, 403), (owner, 404)):  # someone else's, then nobody's
        target = first if stranger is renter else "no-such-notification"
        r = await client.post(f"/api/notifications/{target}/read", headers=bearer(stranger["token"]))
        assert r.status_code == status, r.text
    assert (await notes(client, owner))["unread_count"] == 3  # the refusals changed nothing

    r = await client.post(f"/api/notifications/{first}/read", headers=bearer(owner["token"]))
    assert r.status_code == 200 and r.json()["notification_id"] == first and r.json()["is_read"] is True, r.text
    again = await client.post(f"/api/notifications/{first}/read", headers=bearer(owner["token"]))
    assert again.status_code == 200, again.text
    count = await client.get("/api/notifications/unread-count", headers=bearer(owner["token"]))
    assert count.json() == {"unread_count": 2}
    unread = (await notes(client, owner, unread_only="true"))["notifications"]
    assert len(unread) == 2 and first not in [n["notification_id"] for n in unread]

    r = await client.post("/api/notifications/read-all", headers=bearer(owner["token"]))
    assert r.json() == {"updated": 2}
    r = await client.post("/api/notifications/read-all", headers=bearer(owner["token"]))
    assert r.json() == {"updated": 0}
    assert (await notes(client, owner))["unread_count"] == 0
    assert (await notes(client, renter))["total_count"] == 0  # the renter was never notified


async def test_marking_all_read_pushes_the_new_totals_to_the_users_sockets(server: Server, database_url: str) -> None:
    owner, _, _ = await chat_between(server, database_url)  # the owner has the new chat's notification and "Hi"
    async with await open_socket(server, owner["token"]) as ws:
        await next_frame(ws, "hello")
        r = await call(server, "POST", "/api/notifications/read-all", owner["token"])
        assert r.json() == {"updated": 1}
        badge = await next_frame(ws, "badge")
    assert badge == {"type": "badge", "unread_messages": 1, "unread_notifications": 0}
