"""Opening chats over REST: by a renter and by an owner, again, refused, and the free tier's contact limit.

Messages, their seq and read state are in test_chats.py; archive and block in test_chat_archive.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select

from persistence.models import Contact
from settings import Settings
from tests.conftest import MakeProperty, Register, bearer, open_chat
from tests.live import run_sql, set_premium


async def me(client: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, Any]:
    return (await client.get("/api/auth/me", headers=bearer(user["token"]))).json()  # type: ignore[no-any-return]


async def test_opening_a_chat_stores_the_first_message_and_notifies_the_owner(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id, "Is it still available?")
    assert await open_chat(client, renter, property_id, "Hello again") == chat_id  # same chat, no new contact
    assert (await me(client, renter))["contacts_used"] == 1

    chats = (await client.get("/api/chats", headers=bearer(owner["token"]))).json()
    assert chats["total_count"] == 1 and chats["has_more"] is False
    listed = chats["chats"][0]
    assert listed["chat_id"] == chat_id and listed["initiated_by"] == "renter"
    assert listed["property_title"] == "Sunny 2BHK in Koramangala"
    assert listed["counterpart"] == {"user_id": renter["user_id"], "full_name": "Asha Renter"}
    assert listed["unread_count"] == 1 and listed["last_message"]["message"] == "Is it still available?"
    assert listed["last_message"]["seq"] == 1 and listed["last_message"]["sender_type"] == "renter"

    notes = (await client.get("/api/notifications", headers=bearer(owner["token"]))).json()
    assert notes["unread_count"] == 1 and notes["notifications"][0]["type"] == "new_chat"
    assert notes["notifications"][0]["action_url"] == f"/chats/{chat_id}"
    unread = await client.get("/api/chats/unread-count", headers=bearer(owner["token"]))
    assert unread.json() == {"unread_count": 1}
    assert (await client.get("/api/chats/unread-count", headers=bearer(renter["token"]))).json()["unread_count"] == 0


async def test_reopening_answers_who_really_opened_the_chat(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], make_property: MakeProperty
) -> None:
    owner, renter, property_id = pair
    as_owner = {"renter_id": renter["user_id"], "property_id": property_id, "initial_message": "My flat fits you"}
    as_renter = {"property_id": property_id, "initial_message": "Interested!"}
    first = await client.post("/api/chats/initiate-with-renter", json=as_owner, headers=bearer(owner["token"]))
    assert first.status_code == 200 and first.json()["initiated_by"] == "owner", first.text
    again = await client.post("/api/chats/initiate", json=as_renter, headers=bearer(renter["token"]))
    assert again.json() == {"chat_id": first.json()["chat_id"], "created": False, "initiated_by": "owner"}

    other = await make_property(owner)
    first = await client.post(
        "/api/chats/initiate", json=as_renter | {"property_id": other}, headers=bearer(renter["token"])
    )
    assert first.status_code == 200 and first.json()["initiated_by"] == "renter", first.text
    again = await client.post(
        "/api/chats/initiate-with-renter", json=as_owner | {"property_id": other}, headers=bearer(owner["token"])
    )
    assert again.json() == {"chat_id": first.json()["chat_id"], "created": False, "initiated_by": "renter"}


async def test_a_new_chat_notification_title_is_clipped_to_its_column(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    """Name and listing title at their longest overflow the title column; MariaDB would refuse the row."""
    owner = await register(user_type="owner")
    renter = await register(full_name="Asha " + "R" * 115)
    title = ("Spacious sunlit flat near the metro " * 6)[:200].strip()
    chat_id = await open_chat(client, renter, await make_property(owner, title=title), "Hello")
    notes = (await client.get("/api/notifications", headers=bearer(owner["token"]))).json()["notifications"]
    assert [n["action_url"] for n in notes] == [f"/chats/{chat_id}"]
    assert len(notes[0]["title"]) == 200 and notes[0]["title"].endswith("…")
    assert notes[0]["title"].startswith(f"Asha {'R' * 115} messaged you about Spacious sunlit flat")
    assert notes[0]["message"] == "Hello"


async def test_initiate_accepts_query_parameters(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    _, renter, property_id = pair
    r = await client.post(
        "/api/chats/initiate",
        params={"property_id": property_id, "initial_message": "Hi", "_": "1732512000"},  # and a cache buster
        headers=bearer(renter["token"]),
    )
    assert r.status_code == 200, r.text
    chat_id = r.json()["chat_id"]
    # A JSON body beside a parameter that is none of the body's fields: ignored, as on every query.
    r = await client.post(
        f"/api/chats/{chat_id}/messages", params={"v": "2"}, json={"message": "Hello"}, headers=bearer(renter["token"])
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/chats/{chat_id}/messages", params={"message": "from the query"}, headers=bearer(renter["token"])
    )
    assert r.status_code == 201 and r.json()["message"] == "from the query", r.text


async def test_initiate_refusals_change_nothing(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], make_property: MakeProperty
) -> None:
    owner, renter, property_id = pair
    deleted = await make_property(owner, status="deleted")
    cases = [
        (owner, {"property_id": property_id, "initial_message": "Hi"}, 403),  # owners do not initiate
        (renter, {"property_id": "no-such-property", "initial_message": "Hi"}, 404),
        (renter, {"property_id": deleted, "initial_message": "Hi"}, 404),
        (renter, {"property_id": property_id, "initial_message": "   "}, 422),
        (renter, {"property_id": property_id, "initial_message": "x" * 4001}, 422),
        (renter, {"property_id": property_id}, 422),
        (renter, {"property_id": property_id, "initial_message": "Hi", "status": "blocked"}, 422),
    ]
    for user, body, status in cases:
        r = await client.post("/api/chats/initiate", json=body, headers=bearer(user["token"]))
        assert r.status_code == status, (body, r.text)
    both = await client.post(
        "/api/chats/initiate", json={"property_id": property_id, "initial_message": "Hi"}, headers={}
    )
    assert both.status_code == 401
    assert (await me(client, renter))["contacts_used"] == 0
    assert (await client.get("/api/chats", headers=bearer(owner["token"]))).json()["total_count"] == 0


async def test_nobody_chats_about_their_own_property(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    """Allowed to open chats, not this one: the contract's 403, with nothing counted or opened."""
    both = await register(user_type="both")
    own = await make_property(both)
    as_renter = {"property_id": own, "initial_message": "Hi"}
    r = await client.post("/api/chats/initiate", json=as_renter, headers=bearer(both["token"]))
    assert r.status_code == 403 and r.json() == {"detail": "You cannot start a chat about your own property"}
    as_owner = as_renter | {"renter_id": both["user_id"]}
    r = await client.post("/api/chats/initiate-with-renter", json=as_owner, headers=bearer(both["token"]))
    assert r.status_code == 403 and r.json() == {"detail": "You cannot start a chat with yourself"}
    assert (await me(client, both))["contacts_used"] == 0
    assert (await client.get("/api/chats", headers=bearer(both["token"]))).json()["total_count"] == 0


async def test_an_owner_naming_themself_as_the_renter_gets_403_though_renter_search_would_not_find_them(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    """An owner-only user, and a `both` user who hides from renter search, are 403 to themselves, not 404."""
    owner = await register(user_type="owner")
    hidden = await register(user_type="both")
    r = await client.put("/api/users/me", json={"profile_visibility": False}, headers=bearer(hidden["token"]))
    assert r.status_code == 200, r.text
    for user in (owner, hidden):
        body = {"property_id": await make_property(user), "renter_id": user["user_id"], "initial_message": "Hi"}
        r = await client.post("/api/chats/initiate-with-renter", json=body, headers=bearer(user["token"]))
        assert r.status_code == 403 and r.json() == {"detail": "You cannot start a chat with yourself"}, r.text
        assert (await client.get("/api/chats", headers=bearer(user["token"]))).json()["total_count"] == 0


async def test_a_free_renter_contacts_at_most_five_properties(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    renter = await register()
    properties = [await make_property(owner) for _ in range(6)]
    for property_id in properties[:5]:
        await open_chat(client, renter, property_id)
    r = await client.post(
        "/api/chats/initiate",
        json={"property_id": properties[5], "initial_message": "Hi"},
        headers=bearer(renter["token"]),
    )
    assert r.status_code == 403 and r.json() == {"detail": "Contact limit reached. Upgrade to premium."}
    await open_chat(client, renter, properties[0])  # an existing chat is not a new contact
    assert (await me(client, renter))["contacts_used"] == 5


async def test_the_contact_limit_holds_under_concurrent_initiations(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner = await register(user_type="owner")
    renter = await register()
    properties = [await make_property(owner) for _ in range(20)]
    results = await asyncio.gather(
        *(
            client.post(
                "/api/chats/initiate",
                json={"property_id": property_id, "initial_message": "Hi"},
                headers=bearer(renter["token"]),
            )
            for property_id in properties
        )
    )
    assert sorted(r.status_code for r in results) == [200] * 5 + [403] * 15
    assert (await me(client, renter))["contacts_used"] == 5
    contacts: list[Any] = []

    async def count(session: Any) -> None:
        contacts.extend(await session.scalars(select(Contact).where(Contact.user_id == renter["user_id"])))

    await run_sql(settings.database_url, count)
    assert len(contacts) == 5
    assert (await client.get("/api/chats", headers=bearer(renter["token"]))).json()["total_count"] == 5


async def test_a_premium_renter_has_no_contact_limit(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner = await register(user_type="owner")
    renter = await register()
    await set_premium(settings.database_url, renter["user_id"])
    for _ in range(7):
        await open_chat(client, renter, await make_property(owner))
    assert (await me(client, renter))["contacts_used"] == 7


async def test_a_renter_whose_premium_has_lapsed_is_held_to_the_free_limit(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner = await register(user_type="owner")
    renter = await register()
    await set_premium(settings.database_url, renter["user_id"], days=-1)
    for _ in range(5):
        await open_chat(client, renter, await make_property(owner))
    r = await client.post(
        "/api/chats/initiate",
        json={"property_id": await make_property(owner), "initial_message": "Hi"},
        headers=bearer(renter["token"]),
    )
    assert r.status_code == 403 and r.json() == {"detail": "Contact limit reached. Upgrade to premium."}
    assert (await me(client, renter))["contacts_used"] == 5


async def test_a_renter_opening_a_chat_counts_one_contact_in_the_propertys_analytics(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], register: Register
) -> None:
    owner, renter, property_id = pair
    analytics = f"/api/properties/{property_id}/analytics"
    await open_chat(client, renter, property_id)
    await open_chat(client, renter, property_id, "Hello again")  # the same chat: not a new contact
    await open_chat(client, await register(), property_id)
    assert (await client.get(analytics, headers=bearer(owner["token"]))).json()["total_contacts"] == 2


async def test_opening_an_existing_chat_again_works_after_the_listing_is_let_or_the_renter_hides(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], register: Register
) -> None:
    """The contract's "the same chat again if it exists": only a new chat needs an active listing, a visible renter."""
    owner, renter, property_id = pair
    chat_id = await open_chat(client, renter, property_id)
    r = await client.put(f"/api/properties/{property_id}", json={"status": "rented"}, headers=bearer(owner["token"]))
    assert r.status_code == 200, r.text
    await client.put("/api/users/me", json={"profile_visibility": False}, headers=bearer(renter["token"]))
    body = {"property_id": property_id, "initial_message": "Still there?"}
    again = await client.post("/api/chats/initiate", json=body, headers=bearer(renter["token"]))
    assert again.status_code == 200 and again.json()["chat_id"] == chat_id and not again.json()["created"], again.text
    newcomer = await register()  # a new chat still needs an active listing
    r = await client.post("/api/chats/initiate", json=body, headers=bearer(newcomer["token"]))
    assert r.status_code == 404, r.text
    body |= {"renter_id": renter["user_id"]}
    owner_side = await client.post("/api/chats/initiate-with-renter", json=body, headers=bearer(owner["token"]))
    assert owner_side.status_code == 200 and owner_side.json()["chat_id"] == chat_id, owner_side.text
    other_owner = await register(user_type="owner")  # someone else's chat is no way in: a new one is refused
    r = await client.post("/api/chats/initiate-with-renter", json=body, headers=bearer(other_owner["token"]))
    assert r.status_code == 404, r.text
    page = await client.get(f"/api/chats/{chat_id}/messages", headers=bearer(renter["token"]))
    assert [m["seq"] for m in page.json()["messages"]] == [1]  # nothing stored by the openings again


async def test_owner_opens_a_chat_with_a_visible_renter(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str], register: Register
) -> None:
    owner, renter, property_id = pair
    body = {"renter_id": renter["user_id"], "property_id": property_id, "initial_message": "My flat fits you"}
    r = await client.post("/api/chats/initiate-with-renter", json=body, headers=bearer(owner["token"]))
    assert r.status_code == 200, r.text
    assert r.json()["initiated_by"] == "owner"
    notes = (await client.get("/api/notifications", headers=bearer(renter["token"]))).json()
    assert notes["notifications"][0]["type"] == "new_chat"
    assert (await me(client, renter))["contacts_used"] == 0

    hidden = await register()
    await client.put("/api/users/me", json={"profile_visibility": False}, headers=bearer(hidden["token"]))
    other_owner = await register(user_type="owner")
    refusals = [
        (owner, body | {"renter_id": hidden["user_id"]}, 404),
        (owner, body | {"renter_id": "nobody"}, 404),
        (other_owner, body, 403),  # not their property
        (renter, body, 403),  # renters use /initiate
    ]
    for user, payload, status in refusals:
        r = await client.post("/api/chats/initiate-with-renter", json=payload, headers=bearer(user["token"]))
        assert r.status_code == status, (payload, r.text)


def variants(issued_id: str) -> list[str]:
    """Spellings MariaDB's collation matches to `issued_id`: upper case, and an accent on an a, c or e."""
    accents = {"a": "á", "c": "ç", "e": "é"}
    accented = [issued_id.replace(c, accents[c], 1) for c in issued_id if c in accents][:1]
    return [issued_id.upper(), *accented]


async def test_ids_are_taken_only_as_issued(
    client: httpx.AsyncClient, pair: tuple[dict[str, Any], dict[str, Any], str]
) -> None:
    """On MariaDB a variant found the row; a chat stored under a variant renter id shut the renter out of every chat."""
    owner, renter, property_id = pair
    as_owner = {"renter_id": renter["user_id"], "property_id": property_id, "initial_message": "My flat fits you"}
    refused = [
        (owner, "/api/chats/initiate-with-renter", as_owner | {"renter_id": v}) for v in variants(renter["user_id"])
    ]
    for v in variants(property_id):
        refused.append((owner, "/api/chats/initiate-with-renter", as_owner | {"property_id": v}))
        refused.append((renter, "/api/chats/initiate", {"property_id": v, "initial_message": "Hi"}))
    for user, path, body in refused:
        r = await client.post(path, json=body, headers=bearer(user["token"]))
        assert r.status_code == 404, (body, r.text)
    for user in (owner, renter):
        assert (await client.get("/api/chats", headers=bearer(user["token"]))).json()["total_count"] == 0
    for v in variants(property_id):
        r = await client.get("/api/renters/search", params={"property_id": v}, headers=bearer(owner["token"]))
        assert r.status_code == 404, r.text

    r = await client.post("/api/chats/initiate-with-renter", json=as_owner, headers=bearer(owner["token"]))
    chat_id = r.json()["chat_id"]
    listed = (await client.get("/api/chats", headers=bearer(renter["token"]))).json()["chats"]
    assert [(c["chat_id"], c["renter_id"]) for c in listed] == [(chat_id, renter["user_id"])]
    note = (await client.get("/api/notifications", headers=bearer(renter["token"]))).json()["notifications"][0]
    for v in variants(note["notification_id"]):
        r = await client.post(f"/api/notifications/{v}/read", headers=bearer(renter["token"]))
        assert r.status_code == 404, r.text
    unread = await client.get("/api/notifications/unread-count", headers=bearer(renter["token"]))
    assert unread.json()["unread_count"] == 1
