"""Property search: every filter and sort of the contract, word search, radius search and bad queries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from settings import Settings
from tests.conftest import MakeProperty, Register, bearer
from tests.live import mark_verified, set_premium

KORAMANGALA = (12.935, 77.614)

LISTINGS: dict[str, dict[str, Any]] = {
    "forum": {
        "title": "Sunny 2BHK near Forum Mall",
        "description": "Walk to cafes and the mall.",
        "rent": 30000,
        "location": {"city": "Bengaluru", "locality": "Koramangala 5th Block", "latitude": 12.935, "longitude": 77.614},
        "details": {"furnishing": "semi-furnished"},
    },
    "villa": {
        "title": "Villa with a garden",
        "description": "A quiet lane, the metro ten minutes away.",
        "property_type": "villa",
        "bhk_type": "3BHK",
        "rent": 65000,
        "location": {"city": "Bengaluru", "locality": "Indiranagar", "latitude": 12.978, "longitude": 77.640},
        "details": {"furnishing": "fully-furnished"},
    },
    "whitefield": {
        "title": "Compact 1BHK for one",
        "description": "Near the tech parks.",
        "bhk_type": "1BHK",
        "rent": 15000,
        "location": {"city": "Bengaluru", "locality": "Whitefield", "latitude": 12.969, "longitude": 77.750},
        "details": {"furnishing": "unfurnished"},
    },
    "pune": {
        "title": "2BHK in a green society",
        "description": "Koregaon Park, by the river.",
        "rent": 28000,
        "location": {"city": "Pune", "locality": "Koregaon Park", "latitude": 18.536, "longitude": 73.893},
        "details": {"furnishing": "semi-furnished"},
    },
    "bandra": {
        "title": "1BHK with a sea view",
        "description": "Steps from the promenade.",
        "bhk_type": "1BHK",
        "rent": 45000,
        "location": {"city": "Mumbai", "locality": "Bandra West", "latitude": 19.06, "longitude": 72.83},
        "details": {"furnishing": "fully-furnished"},
    },
}
HIDDEN = {"rented": "rented", "deleted": "deleted", "inactive": "inactive"}


@pytest.fixture
async def catalogue(register: Register, make_property: MakeProperty, settings: Settings) -> dict[str, str]:
    """The listings above, oldest first, "villa" verified; plus one rented, one deleted, one inactive."""
    owner = await register(user_type="owner")
    ids = {name: await make_property(owner, **fields) for name, fields in LISTINGS.items()}
    for name, status in HIDDEN.items():
        ids[name] = await make_property(owner, status=status, title=f"Hidden {name} Forum Mall flat")
    await mark_verified(settings.database_url, ids["villa"])
    return ids


async def found(client: httpx.AsyncClient, ids: dict[str, str], **params: Any) -> list[str]:
    r = await client.get("/api/properties/search", params=params)
    assert r.status_code == 200, r.text
    names = {v: k for k, v in ids.items()}
    return [names[p["property_id"]] for p in r.json()["properties"]]


async def test_default_order_is_verified_first_then_newest(
    client: httpx.AsyncClient, catalogue: dict[str, str]
) -> None:
    r = await client.get("/api/properties/search")
    assert r.json()["total_count"] == 5 and r.json()["has_more"] is False and r.json()["page"] == 1
    assert await found(client, catalogue) == ["villa", "bandra", "pune", "whitefield", "forum"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"city": "bengaluru"}, {"forum", "villa", "whitefield"}),
        ({"city": "BENGALURU", "bhk_type": "2BHK"}, {"forum"}),
        ({"location": "koram"}, {"forum"}),
        ({"location": "Koramangala 5th"}, {"forum"}),
        ({"min_price": 20000, "max_price": 40000}, {"forum", "pune"}),
        ({"max_price": 15000}, {"whitefield"}),
        ({"property_type": "villa"}, {"villa"}),
        ({"furnishing": "fully-furnished"}, {"villa", "bandra"}),
        ({"verified_only": "true"}, {"villa"}),
        ({"city": "Bengaluru", "min_price": 10000, "max_price": 70000, "bhk_type": "1BHK"}, {"whitefield"}),
        ({"city": "", "bhk_type": "", "location": ""}, {"forum", "villa", "whitefield", "pune", "bandra"}),
        ({"city": "Chennai"}, set()),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, catalogue: dict[str, str], params: dict[str, Any], expected: set[str]
) -> None:
    names = await found(client, catalogue, **params)
    assert set(names) == expected and len(names) == len(expected)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("forum", {"forum"}),
        ("FORUM mall", {"forum"}),
        ("garden quiet", {"villa"}),  # title and description
        ("koramangala", {"forum"}),  # locality
        ("koreg", {"pune"}),  # a prefix
        ("sea view", {"bandra"}),
        ("garden sea", set()),  # every word must match
        ("the", {"forum", "villa", "whitefield", "pune", "bandra"}),  # nothing searchable: no filter
        ("forum, near-mall (5th) & the", {"forum"}),  # punctuation people type is fine
        ("1bhk sea", {"bandra"}),
        ("sea vi", set()),  # a word of two letters matches only itself
    ],
)
async def test_word_search(client: httpx.AsyncClient, catalogue: dict[str, str], q: str, expected: set[str]) -> None:
    assert set(await found(client, catalogue, q=q)) == expected


async def test_word_search_follows_edits(
    client: httpx.AsyncClient, catalogue: dict[str, str], register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    own = await make_property(owner, title="Penthouse above the lake")
    assert await found(client, catalogue | {"own": own}, q="penthouse") == ["own"]
    r = await client.put(
        f"/api/properties/{own}", json={"title": "Duplex above the lake"}, headers=bearer(owner["token"])
    )
    assert r.status_code == 200, r.text
    assert await found(client, catalogue | {"own": own}, q="penthouse") == []
    assert await found(client, catalogue | {"own": own}, q="duplex lake") == ["own"]


async def test_word_search_follows_verification_and_deletion(
    client: httpx.AsyncClient,
    catalogue: dict[str, str],
    make_property: MakeProperty,
    register: Register,
    settings: Settings,
) -> None:
    owner = await register(user_type="owner")
    ids = catalogue | {"own": await make_property(owner, title="Penthouse above the lake")}
    assert await found(client, ids, q="penthouse", verified_only="true") == []
    await mark_verified(settings.database_url, ids["own"])
    assert await found(client, ids, q="penthouse", verified_only="true") == ["own"]
    assert await found(client, ids, q="lake") == ["own"]  # verified: first in the default order
    r = await client.delete(f"/api/properties/{ids['own']}", headers=bearer(owner["token"]))
    assert r.status_code == 200, r.text
    assert await found(client, ids, q="penthouse") == []


async def test_words_match_without_accents_and_numbers_whole(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")

    async def make(title: str, city: str, locality: str) -> str:
        location = {"city": city, "locality": locality, "latitude": 28.6, "longitude": 77.3}
        return await make_property(owner, title=title, location=location)

    ids = {
        "cafe": await make("Studio above a café", "Gurugram", "DLF Phase 3"),
        "62": await make("3BHK flat", "Noida", "Sector 62"),
        "6": await make("2BHK flat", "Noida", "Sector 6"),
        "tt": await make("1BHK flat", "Chennai", "TT Nagar"),
    }
    assert await found(client, ids, q="CAFE") == ["cafe"] and await found(client, ids, q="Cafés") == []
    assert await found(client, ids, q="sector 6") == ["6"] and await found(client, ids, q="sector 62") == ["62"]
    assert await found(client, ids, q="tt nagar") == ["tt"] and await found(client, ids, q="t nagar") == ["tt"]


async def test_radius_search_sorted_by_distance(client: httpx.AsyncClient, catalogue: dict[str, str]) -> None:
    lat, lng = KORAMANGALA
    r = await client.get(
        "/api/properties/search", params={"lat": lat, "lng": lng, "radius_km": 10, "sort_by": "distance"}
    )
    assert r.status_code == 200, r.text
    results = r.json()["properties"]
    assert [p["property_id"] for p in results] == [catalogue["forum"], catalogue["villa"]]
    assert results[0]["distance_km"] == 0
    assert 5.0 < results[1]["distance_km"] < 5.6  # Koramangala to Indiranagar, as the crow flies
    wider = await found(client, catalogue, lat=lat, lng=lng, radius_km=20, sort_by="distance")
    assert wider == ["forum", "villa", "whitefield"]
    assert await found(client, catalogue, lat=lat, lng=lng) == ["villa", "forum"], "10 km by default, default order"


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        ("price_low", ["whitefield", "pune", "forum", "bandra", "villa"]),
        ("price_high", ["villa", "bandra", "forum", "pune", "whitefield"]),
        ("recent", ["bandra", "pune", "whitefield", "villa", "forum"]),
    ],
)
async def test_sorts(client: httpx.AsyncClient, catalogue: dict[str, str], sort_by: str, expected: list[str]) -> None:
    assert await found(client, catalogue, sort_by=sort_by) == expected


async def test_paging(client: httpx.AsyncClient, catalogue: dict[str, str]) -> None:
    r = await client.get("/api/properties/search", params={"sort_by": "price_low", "limit": 2, "page": 2})
    page = r.json()
    assert page["total_count"] == 5 and page["page"] == 2 and page["has_more"] is True
    assert await found(client, catalogue, sort_by="price_low", limit=2, page=2) == ["forum", "bandra"]
    last = (await client.get("/api/properties/search", params={"limit": 2, "page": 3})).json()
    assert len(last["properties"]) == 1 and last["has_more"] is False


@pytest.mark.parametrize(
    "params",
    [
        {"bhk_type": "5BHK"},
        {"sort_by": "cheapest"},
        {"property_type": "castle"},
        {"limit": 101},
        {"limit": 0},
        {"page": 0},
        {"page": "first"},
        {"page": 501},  # past the 10,000 results that are paged
        {"radius_km": 5},
        {"lat": 12.9},
        {"lat": 12.9, "lng": 77.6, "radius_km": 0},
        {"lat": 12.9, "lng": 77.6, "radius_km": 5000},
        {"lat": 120, "lng": 77.6},
        {"sort_by": "distance"},
        {"min_price": 50000, "max_price": 10000},
        {"min_price": -1},
        {"verified_only": "maybe"},
    ],
)
async def test_bad_queries_get_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    r = await client.get("/api/properties/search", params=params)
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], list)


@pytest.mark.parametrize(
    "text",
    ["Bengaluru' OR '1'='1", "%%", "Bengaluru%", '{"$ne": null}', "_engaluru", '"forum"', "forum*", "a\\b", "x; DROP"],
)
async def test_metacharacters_in_city_locality_or_q_are_refused(
    client: httpx.AsyncClient, catalogue: dict[str, str], text: str
) -> None:
    for name in ("city", "location", "q"):
        r = await client.get("/api/properties/search", params={name: text})
        assert r.status_code == 422, (name, text, r.text)
        assert r.json()["detail"][0]["loc"] == ["query", name]


async def test_lifestyle_search_is_for_premium_members(
    client: httpx.AsyncClient, catalogue: dict[str, str], register: Register, settings: Settings
) -> None:
    free, lapsed = await register(), await register()
    await set_premium(settings.database_url, lapsed["user_id"], days=-1)
    for user in (free, lapsed):
        r = await client.get("/api/properties/lifestyle-search", headers=bearer(user["token"]))
        assert r.status_code == 403, r.text
    assert (await client.get("/api/properties/lifestyle-search")).status_code == 401


async def test_lifestyle_search_filters_verified_properties(
    client: httpx.AsyncClient, catalogue: dict[str, str], register: Register, settings: Settings
) -> None:
    premium = await register()
    await set_premium(settings.database_url, premium["user_id"])
    await mark_verified(settings.database_url, catalogue["bandra"])
    data = {
        name: (await client.get(f"/api/properties/{catalogue[name]}")).json()["lifestyle_data"]
        for name in ("villa", "bandra")
    }
    headers = bearer(premium["token"])

    async def names(**params: Any) -> list[str]:
        r = await client.get("/api/properties/lifestyle-search", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return [{v: k for k, v in catalogue.items()}[p["property_id"]] for p in r.json()["properties"]]

    cleanest = sorted(data, key=lambda name: data[name]["aqi_score"])
    assert await names() == cleanest, "only verified properties, cleanest air first"
    assert await names(max_aqi=data[cleanest[0]]["aqi_score"]) == cleanest[:1]
    assert await names(max_aqi=min(d["aqi_score"] for d in data.values()) - 1) == []
    assert set(await names(min_walkability=0, max_noise=150)) == set(data)
    assert await names(min_walkability=max(d["walkability_score"] for d in data.values()) + 1) == []
    assert await names(budget=50000) == ["bandra"] and await names(bhk="3BHK") == ["villa"]
    parks = {name for name, d in data.items() if d["nearby_parks"] >= 1}
    assert set(await names(near_parks="true")) == parks
    for bad in ({"max_aqi": -1}, {"bhk": "9BHK"}, {"limit": 500}, {"near_parks": "sometimes"}):
        r = await client.get("/api/properties/lifestyle-search", params=bad, headers=headers)
        assert r.status_code == 422, r.text
