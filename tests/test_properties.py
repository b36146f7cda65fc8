"""Listing a property, reading it (a view), changing it, taking it down, and its analytics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from settings import Settings
from tests.conftest import MakeProperty, Register, bearer, listing
from tests.live import set_premium


async def create(client: httpx.AsyncClient, user: dict[str, Any], **fields: Any) -> httpx.Response:
    return await client.post("/api/properties/create", json=listing(**fields), headers=bearer(user["token"]))


async def test_an_owner_lists_a_property_with_lifestyle_data(client: httpx.AsyncClient, register: Register) -> None:
    owner = await register(user_type="owner")
    r = await create(client, owner, details={"furnishing": "fully-furnished", "available_from": "2026-12-01"})
    assert r.status_code == 201, r.text
    body = r.json()
    prop = body["property"]
    assert body["property_id"] == prop["property_id"] and len(prop["property_id"]) == 36
    assert prop["owner_id"] == owner["user_id"] and prop["status"] == "active" and prop["images"] == []
    assert prop["rent"] == 25000 and prop["location"]["city"] == "Bengaluru"
    assert prop["details"] == {"furnishing": "fully-furnished", "available_from": "2026-12-01", "amenities": []}
    assert prop["lifestyle_data"]["is_mock"] is True and 0 <= prop["lifestyle_data"]["walkability_score"] <= 100
    assert prop["analytics"] == {
        "total_views": 0,
        "premium_views": 0,
        "total_contacts": 0,
        "shortlisted_count": 0,
        "last_viewed": None,
    }
    again = (await create(client, owner)).json()["property"]["lifestyle_data"]
    assert {k: v for k, v in again.items() if k != "calculated_at"} == {
        k: v for k, v in prop["lifestyle_data"].items() if k != "calculated_at"
    }, "the same place gets the same mock values"


async def test_a_renter_cannot_list_and_nothing_is_stored(client: httpx.AsyncClient, register: Register) -> None:
    renter = await register()
    assert (await create(client, renter)).status_code == 403
    assert (await client.get("/api/properties/search")).json()["total_count"] == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"rent": -1},
        {"rent": 0},
        {"rent": 500_000_000},
        {"rent": "lots"},
        {"bhk_type": "5BHK"},
        {"property_type": "castle"},
        {"title": ""},
        {"location": {"locality": "Indiranagar"}},
        {"location": {"city": "Pune", "latitude": 18.5}},
        {"location": {"city": "Pune", "latitude": 95, "longitude": 73}},
        {"location": {"city": "Pune", "pincode": "12"}},
        {"location": {"city": "Pune'; DROP TABLE properties; --"}},
        {"location": {"city": "Pune", "locality": '{"$ne": 1}'}},
        {"details": {"bathrooms": -2}},
        {"is_verified": True},
        {"analytics": {"total_views": 1000}},
        {"owner_id": "someone-else"},
        {"images": ["/uploads/properties/x/y.png"]},
    ],
)
async def test_bad_listings_get_422(client: httpx.AsyncClient, register: Register, fields: dict[str, Any]) -> None:
    owner = await register(user_type="owner")
    r = await create(client, owner, **fields)
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], list)
    assert (await client.get("/api/properties/search")).json()["total_count"] == 0


async def test_reading_counts_views_and_premium_views(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner, free, premium = await register(user_type="owner"), await register(), await register()
    await set_premium(settings.database_url, premium["user_id"])
    property_id = await make_property(owner)
    assert (await client.get(f"/api/properties/{property_id}")).status_code == 200  # anonymous
    assert (await client.get(f"/api/properties/{property_id}", headers=bearer(free["token"]))).status_code == 200
    r = await client.get(f"/api/properties/{property_id}", headers=bearer(premium["token"]))
    assert r.json()["analytics"]["total_views"] == 3 and r.json()["analytics"]["premium_views"] == 1
    await client.get(f"/api/properties/{property_id}", headers=bearer(owner["token"]))  # the owner's own look
    await client.get(f"/api/properties/{property_id}", headers=bearer("not-a-token"))  # a stale token: anonymous
    r = await client.get(f"/api/properties/{property_id}/analytics", headers=bearer(owner["token"]))
    assert r.status_code == 200, r.text
    analytics = r.json()
    assert analytics["total_views"] == 4 and analytics["premium_views"] == 1
    assert datetime.fromisoformat(analytics["last_viewed"]) > datetime.now(UTC) - timedelta(minutes=1)


async def test_200_concurrent_views_count_200(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    property_id = await make_property(owner)
    answers = await asyncio.gather(*(client.get(f"/api/properties/{property_id}") for _ in range(200)))
    assert [r.status_code for r in answers] == [200] * 200
    r = await client.get(f"/api/properties/{property_id}/analytics", headers=bearer(owner["token"]))
    assert r.json()["total_views"] == 200


async def test_unknown_and_deleted_properties_are_404(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    deleted = await make_property(owner, status="deleted")
    for property_id in ("00000000-0000-0000-0000-000000000000", deleted, "x' OR '1'='1"):
        assert (await client.get(f"/api/properties/{property_id}")).status_code == 404
        r = await client.put(f"/api/properties/{property_id}", json={"rent": 1000}, headers=bearer(owner["token"]))
        assert r.status_code == 404
        assert (
            await client.delete(f"/api/properties/{property_id}", headers=bearer(owner["token"]))
        ).status_code == 404


async def test_only_the_owner_changes_deletes_or_reads_analytics(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner, other = await register(user_type="owner"), await register(user_type="owner")
    property_id = await make_property(owner)
    path, headers = f"/api/properties/{property_id}", bearer(other["token"])
    assert (await client.put(path, json={"rent": 1}, headers=headers)).status_code == 403
    assert (await client.delete(path, headers=headers)).status_code == 403
    assert (await client.get(f"{path}/analytics", headers=headers)).status_code == 403
    assert (await client.put(path, json={"rent": 1})).status_code == 401
    r = await client.get(path, headers=bearer(owner["token"]))
    assert r.json()["rent"] == 25000 and r.json()["status"] == "active"


async def test_an_update_changes_listing_fields_only(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    property_id = await make_property(owner)
    path, headers = f"/api/properties/{property_id}", bearer(owner["token"])
    before = (await client.get(path, headers=headers)).json()
    r = await client.put(
        path,
        json={"rent": 27500.5, "title": "2BHK, freshly painted", "details": {"bathrooms": None, "balconies": 2}},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["rent"] == 27500.5 and after["title"] == "2BHK, freshly painted"
    assert after["details"] == {"furnishing": "semi-furnished", "amenities": [], "balconies": 2}
    assert after["lifestyle_data"] == before["lifestyle_data"], "not moved: lifestyle data stays"
    assert after["updated_at"] > before["updated_at"]
    refusals: list[dict[str, Any]] = [{"is_verified": True}, {"status": "deleted"}, {"rent": -5}, {"owner_id": "x"}]
    refusals += [{name: None} for name in ("title", "description", "rent", "security_deposit", "location", "images")]
    refusals += [{"location": {"city": None}}, {"location": {"latitude": None}}, {"details": {"bathrooms": "two"}}]
    for refused in refusals:
        r = await client.put(path, json=refused, headers=headers)
        assert r.status_code == 422, (refused, r.text)
    assert (await client.get(path, headers=headers)).json()["rent"] == 27500.5
    cleared = await client.put(
        path, json={"video_url": None, "location": {"latitude": None, "longitude": None}}, headers=headers
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["video_url"] is None and cleared.json()["location"]["latitude"] is None


async def test_moving_a_property_recomputes_its_lifestyle_data(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    property_id = await make_property(owner)
    path, headers = f"/api/properties/{property_id}", bearer(owner["token"])
    before = (await client.get(path, headers=headers)).json()
    moved = {"location": {"city": "Mumbai", "locality": "Bandra West", "latitude": 19.06, "longitude": 72.83}}
    r = await client.put(path, json=moved, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["location"]["city"] == "Mumbai" and r.json()["location"]["latitude"] == 19.06
    assert r.json()["lifestyle_data"] != before["lifestyle_data"]
    stored = (await client.get(path, headers=headers)).json()
    assert stored["lifestyle_data"] == r.json()["lifestyle_data"]
    search = (await client.get("/api/properties/search", params={"city": "mumbai"})).json()
    assert [p["property_id"] for p in search["properties"]] == [property_id]


async def test_deleting_is_soft_and_hides_the_listing(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    kept, gone = await make_property(owner), await make_property(owner)
    r = await client.delete(f"/api/properties/{gone}", headers=bearer(owner["token"]))
    assert r.status_code == 200 and r.json() == {"message": "Property deleted"}
    assert (await client.get(f"/api/properties/{gone}")).status_code == 404
    mine = (await client.get("/api/properties/my-properties", headers=bearer(owner["token"]))).json()
    assert [p["property_id"] for p in mine["properties"]] == [kept] and mine["total_count"] == 1
    found = (await client.get("/api/properties/search")).json()
    assert [p["property_id"] for p in found["properties"]] == [kept]


async def test_my_properties_lists_every_status_but_deleted_and_is_for_owners(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner, other, renter = await register(user_type="owner"), await register(user_type="both"), await register()
    ids = [await make_property(owner, status=status) for status in ("active", "rented", "inactive")]
    await make_property(other)
    r = await client.get("/api/properties/my-properties", params={"limit": 2}, headers=bearer(owner["token"]))
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total_count"] == 3 and page["has_more"] is True
    assert [p["property_id"] for p in page["properties"]] == ids[::-1][:2]
    assert (await client.get("/api/properties/my-properties", headers=bearer(renter["token"]))).status_code == 403
    assert (await client.get("/api/properties/my-properties")).status_code == 401


async def test_fixed_paths_are_not_taken_for_ids(client: httpx.AsyncClient, register: Register) -> None:
    owner = await register(user_type="owner")
    for path in ("my-properties", "search", "lifestyle-search"):
        r = await client.get(f"/api/properties/{path}", headers=bearer(owner["token"]))
        assert r.status_code != 404, (path, r.text)
