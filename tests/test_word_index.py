"""The word index behind `q`: what a word is, and a database that predates the index."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import delete, func, select, text

from persistence.engine import create_schema, short_lived_engine
from persistence.models import PropertyWord
from persistence.word_queries import MAX_TERMS
from persistence.words import MAX_WORD_CHARS, MAX_WORDS, search_words, stale, words_of
from settings import Settings
from tests.conftest import MYSQL_URL, MakeProperty, Register
from tests.live import run_sql


def test_words_are_lowercase_without_accents_or_noise() -> None:
    assert words_of("Café-side 2BHK, near the Metro!", None, "Sector 6") == {
        "cafe",
        "side",
        "2bhk",
        "near",
        "metro",
        "sector",
        "6",
    }
    assert words_of("A flat in J P Nagar") == {"flat", "nagar"}  # single letters and stopwords go
    assert words_of("x" * 100) == {"x" * MAX_WORD_CHARS}


def test_search_words_keep_the_order_typed() -> None:
    assert search_words("Metro METRO near, Café") == ["metro", "near", "cafe"]
    assert search_words("the of a") == []
    assert search_words(" ".join(f"word{n}" for n in range(20))) == [f"word{n}" for n in range(MAX_WORDS)]


async def found_ids(client: httpx.AsyncClient, q: str) -> list[str]:
    r = await client.get("/api/properties/search", params={"q": q})
    assert r.status_code == 200, r.text
    return [p["property_id"] for p in r.json()["properties"]]


async def test_listings_that_predate_the_index_are_indexed_at_startup(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner = await register(user_type="owner")
    listed = [await make_property(owner, title=f"Penthouse number {n}") for n in range(3)]
    await run_sql(settings.database_url, lambda session: session.execute(delete(PropertyWord)))
    assert await found_ids(client, "penthouse") == []
    async with short_lived_engine(settings.database_url) as engine:
        await create_schema(engine)
    assert sorted(await found_ids(client, "penthouse")) == sorted(listed)


async def test_a_word_that_begins_very_many_words(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    owner = await register(user_type="owner")
    many = " ".join(f"zeta{n:02d}" for n in range(MAX_TERMS + 8))
    listed = {
        "many": await make_property(owner, title="Penthouse with a view", description=many),
        "one": await make_property(owner, title="Zetaville flat"),
        "none": await make_property(owner, title="Penthouse in another town"),
    }
    names = {value: key for key, value in listed.items()}
    assert sorted(names[found] for found in await found_ids(client, "zeta")) == ["many", "one"]
    assert [names[found] for found in await found_ids(client, "zeta penthouse")] == ["many"]


@pytest.mark.mysql
async def test_workers_starting_together_index_each_word_once(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner = await register(user_type="owner")
    for n in range(40):
        await make_property(owner, title=f"Duplex number {n}")
    await run_sql(settings.database_url, lambda session: session.execute(delete(PropertyWord)))
    async with short_lived_engine(MYSQL_URL) as one, short_lived_engine(MYSQL_URL) as two:
        await asyncio.gather(create_schema(one), create_schema(two))
        async with one.connect() as connection:
            assert await connection.run_sync(stale) == []
            assert (await connection.scalar(select(func.count()).select_from(PropertyWord)) or 0) > 40


async def test_the_full_text_table_of_earlier_versions_is_dropped(settings: Settings) -> None:
    if MYSQL_URL:
        pytest.skip("SQLite only: earlier versions kept words in an FTS5 table there")
    async with short_lived_engine(settings.database_url) as engine:
        await create_schema(engine)
        async with engine.begin() as connection:
            await connection.execute(text("CREATE VIRTUAL TABLE properties_fts USING fts5(property_id, title)"))
            await connection.execute(
                text(
                    "CREATE TRIGGER properties_fts_insert AFTER INSERT ON properties BEGIN"
                    " INSERT INTO properties_fts (property_id, title) VALUES (new.id, new.title); END"
                )
            )
        await create_schema(engine)
        async with engine.connect() as connection:
            left = await connection.scalars(text("SELECT name FROM sqlite_master WHERE name LIKE 'properties_fts%'"))
            assert list(left) == []
