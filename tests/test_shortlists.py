"""Shortlists: add once, list with properties, remove; the counter follows and the owner hears of it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import MakeProperty, Register, bearer


async def shortlist(client: httpx.AsyncClient, user: dict[str, Any], **body: Any) -> httpx.Response:
    return await client.post("/api/shortlists", json=body, headers=bearer(user["token"]))


async def analytics(client: httpx.AsyncClient, owner: dict[str, Any], property_id: str) -> dict[str, Any]:
    r = await client.get(f"/api/properties/{property_id}/analytics", headers=bearer(owner["token"]))
    return r.json()  # type: ignore[no-any-return]


async def test_adding_twice_keeps_one_entry_and_counts_once(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    property_id = await make_property(owner, title="Sunny 2BHK in Koramangala")
    r = await shortlist(client, renter, property_id=property_id, notes="Ask about parking")
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["property_id"] == property_id and entry["notes"] == "Ask about parking"
    assert entry["property"]["title"] == "Sunny 2BHK in Koramangala" and len(entry["shortlist_id"]) == 36
    again = await shortlist(client, renter, property_id=property_id)
    assert again.status_code == 200 and again.json()["shortlist_id"] == entry["shortlist_id"]
    assert again.json()["notes"] == "Ask about parking", "notes stay unless sent"
    renoted = await shortlist(client, renter, property_id=property_id, notes="Parking is included")
    assert renoted.json()["notes"] == "Parking is included"
    listed = (await client.get("/api/shortlists", headers=bearer(renter["token"]))).json()
    assert listed["total_count"] == 1 and [e["shortlist_id"] for e in listed["shortlists"]] == [entry["shortlist_id"]]
    assert (await analytics(client, owner, property_id))["shortlisted_count"] == 1


async def test_concurrent_adds_make_one_entry(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    property_id = await make_property(owner)
    answers = await asyncio.gather(*(shortlist(client, renter, property_id=property_id) for _ in range(10)))
    assert sorted(r.status_code for r in answers) == [200] * 9 + [201]
    assert len({r.json()["shortlist_id"] for r in answers}) == 1
    assert (await analytics(client, owner, property_id))["shortlisted_count"] == 1


async def test_the_owner_is_notified_once(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner, renter = await register(user_type="owner"), await register(full_name="Asha Rao")
    property_id = await make_property(owner, title="Sunny 2BHK in Koramangala")
    await shortlist(client, renter, property_id=property_id)
    await shortlist(client, renter, property_id=property_id)
    notes = (await client.get("/api/notifications", headers=bearer(owner["token"]))).json()["notifications"]
    assert [(n["type"], n["title"], n["action_url"]) for n in notes] == [
        ("property_shortlisted", "Asha Rao shortlisted Sunny 2BHK in Koramangala", f"/properties/{property_id}")
    ]
    assert (await client.get("/api/notifications", headers=bearer(renter["token"]))).json()["notifications"] == []


async def test_removing_follows_the_counter_and_hides_the_entry(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner, renter, other = await register(user_type="owner"), await register(), await register()
    first, second = await make_property(owner), await make_property(owner)
    for property_id in (first, second):
        await shortlist(client, renter, property_id=property_id)
    await shortlist(client, other, property_id=first)
    assert (await analytics(client, owner, first))["shortlisted_count"] == 2
    r = await client.delete(f"/api/shortlists/{first}", headers=bearer(renter["token"]))
    assert r.status_code == 200, r.text
    assert (await client.delete(f"/api/shortlists/{first}", headers=bearer(renter["token"]))).status_code == 404
    assert (await analytics(client, owner, first))["shortlisted_count"] == 1
    listed = (await client.get("/api/shortlists", headers=bearer(renter["token"]))).json()
    assert [e["property_id"] for e in listed["shortlists"]] == [second]
    others = (await client.get("/api/shortlists", headers=bearer(other["token"]))).json()
    assert [e["property_id"] for e in others["shortlists"]] == [first], "one user's removal is theirs alone"


async def test_deleted_listings_drop_out_and_cannot_be_added(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    kept, gone = await make_property(owner), await make_property(owner)
    for property_id in (kept, gone):
        await shortlist(client, renter, property_id=property_id)
    assert (await client.delete(f"/api/properties/{gone}", headers=bearer(owner["token"]))).status_code == 200
    listed = (await client.get("/api/shortlists", headers=bearer(renter["token"]))).json()
    assert [e["property_id"] for e in listed["shortlists"]] == [kept] and listed["total_count"] == 1
    assert (await shortlist(client, renter, property_id=gone)).status_code == 404
    rented = await make_property(owner, status="rented")
    assert (await shortlist(client, renter, property_id=rented)).status_code == 404


async def test_bad_shortlist_requests(client: httpx.AsyncClient, register: Register) -> None:
    renter = await register()
    assert (await shortlist(client, renter, property_id="00000000-0000-0000-0000-000000000000")).status_code == 404
    for body in ({}, {"property_id": ""}, {"property_id": "x", "extra": 1}, {"property_id": "x", "notes": "n" * 1001}):
        r = await shortlist(client, renter, **body)
        assert r.status_code == 422, (body, r.text)
    assert (await client.post("/api/shortlists", json={"property_id": "x"})).status_code == 401
    assert (
        await client.get("/api/shortlists", headers=bearer(renter["token"]), params={"limit": 101})
    ).status_code == 422
    assert (await client.get("/api/shortlists", headers=bearer(renter["token"]))).json()["total_count"] == 0
