"""Archive and block over REST: an archive is the archiver's alone until a new message, a block shared and final."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from persistence.models import Chat
from settings import Settings
from tests.conftest import bearer, initiate, open_chat, send, unread
from tests.live import run_sql


async def listed(client: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, str]:
    """The user's chat list as chat id -> status."""
    page = (await client.get("/api/chats", headers=bearer(user["token"]))).json()
    return {chat["chat_id"]: chat["status"] for chat in page["chats"]}


async def status_seen(client: httpx.AsyncClient, user: dict[str, Any], chat_id: str) -> str:
    detail = await client.get(f"/api/chats/{chat_id}", headers=bearer(user["token"]))
    assert detail.status_code == 200, detail.text
    return detail.json()["status"]  # type: ignore[no-any-return]


async def archive(client: httpx.AsyncClient, user: dict[str, Any], chat_id: str) -> str:
    r = await client.post(f"/api/chats/{chat_id}/archive", headers=bearer(user["token"]))
    assert r.status_code == 200, r.text
    return r.json()["status"]  # type: ignore[no-any-return]


async def test_archiving_hides_a_chat_from_the_archiver_alone_and_reads_nothing(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    assert (await send(client, owner, chat_id, message="Yes, it is")).status_code == 201
    assert (await unread(client, renter), await unread(client, owner)) == (1, 0)

    assert await archive(client, renter, chat_id) == "archived"
    assert await archive(client, renter, chat_id) == "archived"  # twice is harmless
    assert (await unread(client, renter), await unread(client, owner)) == (1, 0)
    assert await listed(client, renter) == {}
    assert await listed(client, owner) == {chat_id: "active"}
    assert await status_seen(client, renter, chat_id) == "archived"
    assert await status_seen(client, owner, chat_id) == "active"


@pytest.mark.parametrize("sender", ["renter", "owner"])
async def test_a_new_message_from_either_side_brings_an_archived_chat_back(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], sender: str
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    assert await archive(client, renter, chat_id) == "archived"
    assert await listed(client, owner) == {chat_id: "active"}
    assert (await send(client, renter if sender == "renter" else owner, chat_id, message="News")).status_code == 201
    assert await listed(client, renter) == {chat_id: "active"}
    assert await listed(client, owner) == {chat_id: "active"}
    assert await status_seen(client, renter, chat_id) == "active"


async def test_each_side_archives_on_its_own(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    assert await archive(client, owner, chat_id) == "archived"
    assert await archive(client, renter, chat_id) == "archived"
    assert (await listed(client, renter), await listed(client, owner)) == ({}, {})
    assert (await send(client, owner, chat_id, message="Still interested?")).status_code == 201
    assert await listed(client, renter) == {chat_id: "active"} == await listed(client, owner)

    assert await archive(client, owner, chat_id) == "archived"
    assert await listed(client, owner) == {}
    assert await listed(client, renter) == {chat_id: "active"}
    assert await status_seen(client, renter, chat_id) == "active"


async def test_a_chat_archived_by_older_data_is_archived_for_both_until_a_message(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], settings: Settings
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    await run_sql(
        settings.database_url, lambda s: s.execute(update(Chat).where(Chat.id == chat_id).values(status="archived"))
    )
    assert (await listed(client, renter), await listed(client, owner)) == ({}, {})
    assert await unread(client, owner) == 1
    assert await status_seen(client, renter, chat_id) == "archived" == await status_seen(client, owner, chat_id)

    assert (await send(client, owner, chat_id, message="Back again")).status_code == 201
    assert await listed(client, renter) == {chat_id: "active"} == await listed(client, owner)
    assert await archive(client, renter, chat_id) == "archived"
    assert await listed(client, owner) == {chat_id: "active"}


async def reach_out(client: httpx.AsyncClient, owner: dict[str, Any], renter: dict[str, Any], property_id: str) -> str:
    r = await initiate(client, owner, property_id, renter["user_id"])
    assert r.status_code == 200, r.text
    return r.json()["chat_id"]  # type: ignore[no-any-return]


async def test_opening_an_archived_chat_again_brings_it_back_for_the_opener_alone(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    assert await archive(client, renter, chat_id) == "archived"
    assert await archive(client, owner, chat_id) == "archived"

    assert await open_chat(client, renter, property_id, "Is it still free?") == chat_id
    assert (await listed(client, renter), await listed(client, owner)) == ({chat_id: "active"}, {})
    assert await reach_out(client, owner, renter, property_id) == chat_id
    assert await listed(client, owner) == {chat_id: "active"}
    history = await client.get(f"/api/chats/{chat_id}/messages", headers=bearer(renter["token"]))
    assert [m["message"] for m in history.json()["messages"]] == ["Hello"]  # opening again stores nothing


async def test_opening_a_chat_archived_by_older_data_brings_it_back_for_the_opener_alone(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], settings: Settings
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    await run_sql(
        settings.database_url, lambda s: s.execute(update(Chat).where(Chat.id == chat_id).values(status="archived"))
    )
    assert await reach_out(client, owner, renter, property_id) == chat_id
    assert (await listed(client, renter), await listed(client, owner)) == ({}, {chat_id: "active"})
    assert await status_seen(client, renter, chat_id) == "archived"
    assert (await send(client, owner, chat_id, message="Any questions?")).status_code == 201
    assert await listed(client, renter) == {chat_id: "active"}


async def test_a_block_is_shared_and_final_and_archiving_it_changes_nothing(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    assert await archive(client, renter, chat_id) == "archived"
    assert await status_seen(client, owner, chat_id) == "active"

    blocked = await client.post(f"/api/chats/{chat_id}/block", headers=bearer(owner["token"]))
    assert blocked.status_code == 200 and blocked.json()["status"] == "blocked", blocked.text
    for user in (owner, renter):
        r = await send(client, user, chat_id, message="hello?")
        assert r.status_code == 403 and r.json() == {"detail": "This chat is blocked"}
        assert await archive(client, user, chat_id) == "blocked"
        assert await status_seen(client, user, chat_id) == "blocked"
        assert await listed(client, user) == {}


async def test_archive_and_block_answer_the_chat_as_the_list_shows_it_with_its_last_message(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    assert (await send(client, owner, chat_id, message="Yes, it is")).status_code == 201
    page = await client.get("/api/chats", headers=bearer(renter["token"]))
    [shown] = page.json()["chats"]
    archived = await client.post(f"/api/chats/{chat_id}/archive", headers=bearer(renter["token"]))
    assert archived.json() == shown | {"status": "archived"}, archived.text
    assert archived.json()["last_message"]["message"] == "Yes, it is"
    blocked = await client.post(f"/api/chats/{chat_id}/block", headers=bearer(renter["token"]))
    assert blocked.json() == shown | {"status": "blocked"}, blocked.text
