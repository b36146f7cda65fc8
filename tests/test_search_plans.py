"""MariaDB's plans for the main searches: each reads through an index, none scans the table.

Thousands of listings across 20 cities, analysed, so the optimizer chooses as
it would in production; with a handful of rows it would rightly scan.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Select, func, insert, select, text
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.engine import make_engine, short_lived_engine
from persistence.models import Property, User
from persistence.search import CATALOGUE_ORDER, MAX_COUNTED, Filters, capped_count_query, page_query
from persistence.word_queries import listings_with, walk
from persistence.words import index_listings
from tests.conftest import MYSQL_URL, empty_tables
from tests.live import property_row

pytestmark = [pytest.mark.mysql, pytest.mark.timeout(120)]

LISTINGS = 4000
CITIES = [f"City {n:02d}" for n in range(20)]
WORDS = "sunny spacious quiet modern airy cosy bright garden metro lake park tower villa studio".split()

SEARCHES: dict[str, Filters] = {
    "city + price + bhk": Filters(city="City 03", min_price=Decimal(15000), max_price=Decimal(30000), bhk_type="2BHK"),
    "locality": Filters(city="City 03", locality="Locality 7"),
    "locality alone": Filters(locality="Locality 7"),
    "q in a city": Filters(q="garden metro", city="City 03"),
    "radius by distance": Filters(lat=19.0, lng=77.5, radius_km=15, sort_by="distance"),
    "default order": Filters(),
    "verified only": Filters(verified_only=True),
    "price low": Filters(sort_by="price_low"),
    "recent in a city": Filters(city="City 11", sort_by="recent"),
}

# Sorts an index returns in order: a page reads its rows and stops, however many match.
SORTED_BY_INDEX = {"default order", "verified only", "price low", "city + price + bhk"}
# Searches that sort their matches while there are few, and walk an index in order when they are dense.
WALKED_WHEN_DENSE = {"locality alone", "recent in a city", "q in a city"}


def rows(rng: random.Random, owner_id: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    listings = []
    for n in range(LISTINGS):
        city = rng.randrange(len(CITIES))
        listings.append(
            property_row(
                owner_id,
                title=" ".join(rng.sample(WORDS, 3)) + f" home {n}",
                description=" ".join(rng.sample(WORDS, 6)),
                bhk_type=rng.choice(["1BHK", "2BHK", "3BHK", "4BHK+"]),
                rent=Decimal(rng.randrange(5000, 150000, 500)),
                city=CITIES[city],
                locality=f"Locality {rng.randrange(40)}",
                latitude=8 + city + rng.uniform(-0.2, 0.2),
                longitude=72 + city / 2 + rng.uniform(-0.2, 0.2),
                is_verified=rng.random() < 0.3,
                status="active" if rng.random() < 0.9 else "rented",
                created_at=now - timedelta(minutes=n),
            )
        )
    return listings


async def seed() -> None:
    await empty_tables(MYSQL_URL)
    owner_id = str(uuid.uuid4())
    async with short_lived_engine(MYSQL_URL) as engine, engine.begin() as connection:
        now = datetime.now(UTC)
        await connection.execute(
            insert(User).values(
                id=owner_id,
                email="plans@example.in",
                phone="+919000000001",
                password_hash="x" * 60,
                user_type="owner",
                full_name="Plan Owner",
                subscription_tier="free",
                contacts_used=0,
                is_verified_renter=False,
                is_verified_owner=False,
                renter_verification_status="not_submitted",
                owner_verification_status="not_submitted",
                profile_visibility=True,
                is_admin=False,
                is_active=True,
                created_at=now,
                updated_at=now,
            )
        )
        listings = rows(random.Random(7), owner_id)
        await connection.execute(insert(Property), listings)
        await index_listings(connection, [row["id"] for row in listings])
        await connection.execute(text("ANALYZE TABLE properties, property_words"))


@pytest.fixture(scope="module", autouse=True)
def seeded() -> Iterator[None]:
    asyncio.run(seed())
    yield
    asyncio.run(empty_tables(MYSQL_URL))


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = make_engine(MYSQL_URL)
    yield engine
    await engine.dispose()


async def plan(engine: AsyncEngine, query: Select[Any]) -> list[dict[str, Any]]:
    sql = query.compile(dialect=mysql.dialect(), compile_kwargs={"literal_binds": True})
    async with engine.connect() as connection:
        result = await connection.execute(text(f"EXPLAIN {sql}"))
        return [dict(row._mapping) for row in result]


@pytest.mark.parametrize("name", list(SEARCHES))
async def test_each_search_reads_properties_through_an_index(engine: AsyncEngine, name: str) -> None:
    filters = SEARCHES[name]
    page = page_query(filters).limit(20).offset(40)
    for query in (page, capped_count_query(filters)):
        reads = [step for step in await plan(engine, query) if step["table"] == "properties"]
        assert reads, f"{name}: no read of properties"
        for step in reads:
            assert step["type"] != "ALL" and step["key"], f"{name}: a full scan\n{step}"
        for step in await plan(engine, query):
            if step["table"] and step["table"].startswith("property_words"):
                assert step["key"] == "ix_property_words_property", f"{name}: words not probed by listing\n{step}"
    first = [step for step in await plan(engine, page) if step["table"] == "properties"][0]
    if name in SORTED_BY_INDEX:
        assert "filesort" not in (first["Extra"] or ""), f"{name}: sorts every match\n{first}"


async def test_the_seeded_searches_find_something(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        for name, filters in SEARCHES.items():
            matching = capped_count_query(filters).subquery()
            count = await connection.scalar(select(func.count()).select_from(matching))
            assert count, f"{name} finds nothing: its plan proves little"


@pytest.mark.parametrize("name", sorted(WALKED_WHEN_DENSE))
async def test_dense_matches_are_walked_in_order(engine: AsyncEngine, name: str) -> None:
    filters = SEARCHES[name]
    sparse = [step for step in await plan(engine, page_query(filters).limit(20)) if step["table"]]
    dense = [step for step in await plan(engine, page_query(filters, dense=True).limit(20)) if step["table"]]
    assert "filesort" in (sparse[0]["Extra"] or ""), sparse
    assert dense[0]["key"] == CATALOGUE_ORDER[filters.sort_by] and "filesort" not in (dense[0]["Extra"] or ""), dense


async def test_words_alone_are_read_in_order_from_the_word_index(engine: AsyncEngine) -> None:
    """The first word's listings in key order, no sort, no read of properties; each other word looked up by key."""
    words = ["garden", "metro", "lake"]
    terms = {"garden": ["garden", "gardens"], "metro": ["metro"], "lake": ["lake", "lakes"]}
    counted = listings_with(words, terms, verified_only=False).limit(MAX_COUNTED)
    walked = walk(words, terms, verified_only=False, needed=21).limit(21)
    # Each read of the first word's listings (one to count, one per term and verification to walk)
    # comes with a join on the whole key for "metro", and a lookup of it for each term of "lake".
    for query, reads in ((counted, 1), (walked, 4)):
        steps = [step for step in await plan(engine, query) if step["table"] and not step["table"].startswith("<")]
        first = [step for step in steps if step["table"] == "property_words"]
        looked_up = [step for step in steps if step["select_type"] == "DEPENDENT SUBQUERY"]
        assert len(first) == reads and len(looked_up) == 2 * reads and len(steps) == 4 * reads, steps
        for step in first:
            assert step["key"] == "PRIMARY" and "filesort" not in (step["Extra"] or ""), step
        for step in steps:
            if step not in first:
                assert step["key"] == "PRIMARY" and step["type"] == "eq_ref", step
