"""Searches with more matches than are counted: the count stops, paging and order do not.

Past MAX_COUNTED matches a search walks an index in its sort order, or for a
distance sort narrows its circle (persistence/search.py). These tests seed
more listings than that near one point and check every such page against the
order computed here, in Python, from the rows themselves.
"""

from __future__ import annotations

import random
import struct
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.geo import haversine_km
from persistence.models import Property
from persistence.search import MAX_COUNTED
from persistence.words import index_listings
from settings import Settings
from tests.conftest import Register
from tests.live import property_row, run_sql

pytestmark = pytest.mark.timeout(120)

LISTINGS = MAX_COUNTED + 120
# One in each title: "sun" begins two of them, so it is walked as two words of the index.
ADJECTIVES = ("sunny", "sunlit", "airy", "quiet")
CENTRE = (28.45, 77.03)  # Gurugram


def single(value: float) -> float:
    """`value` as MariaDB's FLOAT column keeps it, so distances computed here match the database's."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def rows(owner_id: str) -> list[dict[str, Any]]:
    rng, now = random.Random(11), datetime.now(UTC)
    made = []
    for n in range(LISTINGS):
        bhk = rng.choice(["1BHK", "2BHK", "3BHK"])
        made.append(
            property_row(
                owner_id,
                title=f"{rng.choice(ADJECTIVES)} {bhk} flat {n}",
                bhk_type=bhk,
                rent=Decimal(rng.randrange(10000, 60000, 500)),
                city="Gurugram",
                state="Haryana",
                locality=f"Sector {rng.randrange(40, 60)}",
                latitude=single(CENTRE[0] + rng.uniform(-0.03, 0.03)),
                longitude=single(CENTRE[1] + rng.uniform(-0.03, 0.03)),
                is_verified=rng.random() < 0.3,
                status="active" if n % 25 else "rented",
                created_at=now - timedelta(minutes=rng.randrange(100_000)),
            )
        )
    return made


@pytest.fixture
async def listings(client: httpx.AsyncClient, register: Register, settings: Settings) -> list[dict[str, Any]]:
    owner = await register(user_type="owner")
    made = rows(owner["user"]["user_id"])

    async def add(session: AsyncSession) -> None:
        await session.execute(insert(Property), made)
        await index_listings(await session.connection(), [row["id"] for row in made])

    await run_sql(settings.database_url, add)
    return [row for row in made if row["status"] == "active"]


def newest_verified_first(found: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(found, key=lambda row: (row["is_verified"], row["created_at"], row["id"]), reverse=True)
    return [row["id"] for row in ordered]


def newest_first(found: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for row in sorted(found, key=lambda row: (row["created_at"], row["id"]), reverse=True)]


def cheapest_first(found: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for row in sorted(found, key=lambda row: (row["rent"], row["id"]))]


def titled(found: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [row for row in found if any(word.lower().startswith(prefix) for word in row["title"].split())]


async def pages(client: httpx.AsyncClient, count: int, **params: Any) -> tuple[list[str], list[dict[str, Any]]]:
    ids, answers = [], []
    for page in range(1, count + 1):
        answer = (await client.get("/api/properties/search", params={**params, "page": page})).json()
        ids += [found["property_id"] for found in answer["properties"]]
        answers.append(answer)
    return ids, answers


async def test_the_count_stops_at_the_cap_and_paging_goes_on(
    client: httpx.AsyncClient, listings: list[dict[str, Any]]
) -> None:
    assert len(listings) > MAX_COUNTED
    last_page = -(-len(listings) // 100)
    answer = (await client.get("/api/properties/search", params={"city": "gurugram", "limit": 100, "page": 10})).json()
    assert answer["total_count"] == MAX_COUNTED and answer["has_more"] is True
    answer = (
        await client.get("/api/properties/search", params={"city": "Gurugram", "limit": 100, "page": last_page})
    ).json()
    assert len(answer["properties"]) == len(listings) - 100 * (last_page - 1) and answer["has_more"] is False
    ids, _ = await pages(client, last_page, city="Gurugram", limit=100)
    assert ids == newest_verified_first(listings)


async def test_dense_matches_page_in_order(client: httpx.AsyncClient, listings: list[dict[str, Any]]) -> None:
    # Every listing is in a "Sector ...": dense matches, walked in the default order.
    ids, answers = await pages(client, 3, location="sect", limit=50)
    assert all(answer["total_count"] == MAX_COUNTED and answer["has_more"] for answer in answers)
    assert ids == newest_verified_first(listings)[:150]


async def test_city_bhk_and_price_pages_in_order(client: httpx.AsyncClient, listings: list[dict[str, Any]]) -> None:
    params = {"city": "Gurugram", "bhk_type": "2BHK", "min_price": 20000, "max_price": 40000, "limit": 40}
    matching = [row for row in listings if row["bhk_type"] == "2BHK" and 20000 <= row["rent"] <= 40000]
    ids, answers = await pages(client, 3, **params)
    assert answers[0]["total_count"] == len(matching)
    assert ids == newest_verified_first(matching)[:120]


async def test_nearest_first_when_the_circle_is_dense(
    client: httpx.AsyncClient, listings: list[dict[str, Any]]
) -> None:
    lat, lng = CENTRE
    distances = {row["id"]: haversine_km(lat, lng, row["latitude"], row["longitude"]) for row in listings}
    nearest = sorted(distances, key=lambda found: (distances[found], found))
    ids, answers = await pages(client, 4, lat=lat, lng=lng, radius_km=10, sort_by="distance", limit=30)
    assert all(answer["total_count"] == MAX_COUNTED for answer in answers)
    assert ids == nearest[:120]
    shown = [found["distance_km"] for answer in answers for found in answer["properties"]]
    assert shown == sorted(shown) and shown[-1] == pytest.approx(distances[nearest[119]], abs=0.01)


async def test_a_common_word_pages_in_order(client: httpx.AsyncClient, listings: list[dict[str, Any]]) -> None:
    # Every title has "flat": more matches than are counted, read from the word index in order.
    ids, answers = await pages(client, 3, q="flat", limit=50)
    assert all(answer["total_count"] == MAX_COUNTED and answer["has_more"] for answer in answers)
    assert ids == newest_verified_first(listings)[:150]
    ids, _ = await pages(client, 2, q="FLA", verified_only="true", limit=50)
    assert ids == newest_verified_first([row for row in listings if row["is_verified"]])[:100]


async def test_a_prefix_of_several_words_pages_in_order(
    client: httpx.AsyncClient, listings: list[dict[str, Any]]
) -> None:
    sunny = titled(listings, "sun")
    assert 0 < len(titled(listings, "sunny")) < len(sunny) < MAX_COUNTED
    ids, answers = await pages(client, 4, q="sun", limit=50)
    assert answers[0]["total_count"] == len(sunny)
    assert ids == newest_verified_first(sunny)[:200]
    ids, _ = await pages(client, 3, q="sun", sort_by="recent", limit=50)
    assert ids == newest_first(sunny)[:150]
    ids, answers = await pages(client, 2, q="flat sun", limit=100)
    assert answers[0]["total_count"] == len(sunny) and ids == newest_verified_first(sunny)[:200]
    # "2bhk" is the rarer: its listings are read, and each tested for either "sun" word.
    sunny_2bhk = [row for row in sunny if row["bhk_type"] == "2BHK"]
    ids, answers = await pages(client, 2, q="sun 2bhk", limit=50)
    assert answers[0]["total_count"] == len(sunny_2bhk) and ids == newest_verified_first(sunny_2bhk)[:100]


async def test_a_deep_page_of_a_word_search(client: httpx.AsyncClient, listings: list[dict[str, Any]]) -> None:
    answer = (await client.get("/api/properties/search", params={"q": "flat", "limit": 100, "page": 8})).json()
    assert [found["property_id"] for found in answer["properties"]] == newest_verified_first(listings)[700:800]


async def test_words_with_other_filters_page_in_order(
    client: httpx.AsyncClient, listings: list[dict[str, Any]]
) -> None:
    # Dense: the catalogue is walked in price order, each listing's words probed.
    ids, answers = await pages(client, 2, q="flat", city="Gurugram", sort_by="price_low", limit=50)
    assert answers[0]["total_count"] == MAX_COUNTED and ids == cheapest_first(listings)[:100]
    quiet = titled(listings, "quiet")
    ids, answers = await pages(client, 2, q="quiet sector", sort_by="price_low", limit=50)
    assert answers[0]["total_count"] == len(quiet) and ids == cheapest_first(quiet)[:100]
