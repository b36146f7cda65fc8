"""Property search: the filters and sorts of the contract, shaped so the indexes can serve them.

Every filter is a column comparison (city and locality compare without case,
see `columns.Caseless`); `q` goes through the word index (`words.py`), and a
radius first narrows to a latitude/longitude box (`geo.py`).

A search's cost must not grow with the catalogue, so no step touches every
match of a broad search:

- `total_count` stops at MAX_COUNTED: past it, the frontend shows "1,000+".
  Whether another page exists is asked of the database (one id past the
  page), not derived from the count, so paging goes on to MAX_PAGED results.
- A page is found as ids first, inside an index where the filters allow (see
  the Property indexes), and only its own rows are read whole.
- A search with fewer than MAX_COUNTED matches sorts them all: a bounded sort.
  One with more (its matches are dense) walks an index in its sort order and
  stops at the page, which dense matches fill after a short walk. A distance
  sort with many times a page of matches narrows its circle instead until it
  holds about a page (`nearest`).
- A search by words alone, in the default or newest-first order, reads its
  matches from the word index, which holds each word's listings in that order
  (`words.walk`), and counts them there.

bench/search.py measures this at 10,000 and 100,000 listings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.geo import bounding_box, distance_km
from persistence.models import Property
from persistence.word_queries import MAX_TERMS, listings_with, looked_up, lookup_query, matches, walk
from persistence.words import search_words

MAX_COUNTED = 1_000
MAX_PAGED = 10_000
# Dense matches are walked in sort order for pages up to this depth; deeper, sorting them all is cheaper.
MAX_WALKED_DEPTH = 200
# A distance sort over this many times the matches it shows first narrows its circle (`nearest`).
NARROWED_CIRCLE = 4
# The index that holds the whole catalogue in each sort's order (models.Property).
CATALOGUE_ORDER = {
    None: "ix_properties_default_order",
    "recent": "ix_properties_recent",
    "price_low": "ix_properties_rent",
    "price_high": "ix_properties_rent",
}
T = TypeVar("T")
# Coordinates without a radius: what "near me" means in an Indian city.
DEFAULT_RADIUS_KM = 10.0


@dataclass(frozen=True)
class Filters:
    city: str | None = None
    locality: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    bhk_type: str | None = None
    property_type: str | None = None
    furnishing: str | None = None
    verified_only: bool = False
    q: str | None = None
    lat: float | None = None
    lng: float | None = None
    radius_km: float | None = None
    sort_by: str | None = None


@dataclass(frozen=True)
class Found:
    rows: list[tuple[Property, float | None]]  # each property with its distance from the searched point
    total: int  # up to MAX_COUNTED
    more: bool  # another page follows


def conditions(filters: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Property.status == "active"]
    if filters.city:
        where.append(Property.city == filters.city)
    if filters.locality:
        where.append(Property.locality.startswith(filters.locality, autoescape=True))
    if filters.min_price is not None:
        where.append(Property.rent >= filters.min_price)
    if filters.max_price is not None:
        where.append(Property.rent <= filters.max_price)
    for column, value in (
        (Property.bhk_type, filters.bhk_type),
        (Property.property_type, filters.property_type),
        (Property.furnishing, filters.furnishing),
    ):
        if value:
            where.append(column == value)
    if filters.verified_only:
        where.append(Property.is_verified.is_(True))
    if filters.q is not None and (words := search_words(filters.q)):
        where.append(matches(words))
    if filters.lat is not None and filters.lng is not None:
        radius = filters.radius_km or DEFAULT_RADIUS_KM
        box = bounding_box(filters.lat, filters.lng, radius)
        where += [
            Property.latitude.between(box.min_lat, box.max_lat),
            Property.longitude.between(box.min_lng, box.max_lng),
            distance_from(filters) <= radius,
        ]
    return where


def distance_from(filters: Filters) -> ColumnElement[float]:
    return distance_km(Property.latitude, Property.longitude, filters.lat, filters.lng)


def sort_keys(filters: Filters) -> tuple[list[Any], bool]:
    """The columns a search sorts on, ending in the id, and whether they descend.

    All in one direction, so an index can return rows already in order. A
    distance sort names the `distance` that `page_query` selects.
    """
    if filters.sort_by in ("price_low", "price_high"):
        return [Property.rent, Property.id], filters.sort_by == "price_high"
    if filters.sort_by == "recent":
        return [Property.created_at, Property.id], True
    if filters.sort_by == "distance":
        return [distance_from(filters).label("distance"), Property.id], False
    # The contract's default: verified listings first, then the newest.
    return [Property.is_verified, Property.created_at, Property.id], True


def worded(filters: Filters) -> bool:
    return bool(filters.q and search_words(filters.q))


def narrowed(filters: Filters) -> bool:
    """True when a filter with an index of its own (city, locality, words, a point) picks the matches."""
    return bool(filters.city or filters.locality or filters.lat is not None or worded(filters))


def city_index(filters: Filters) -> str | None:
    """The city index that hands a city search's matches over already in its sort order, if one does.

    Walking it passes only matches (any price band is tested inside the index),
    so the page reads just its own entries, however large the city.
    """
    city, low, high, verified = filters.city, filters.min_price, filters.max_price, filters.verified_only
    if not city:
        return None
    if filters.sort_by in ("price_low", "price_high"):
        if filters == Filters(city=city, min_price=low, max_price=high, sort_by=filters.sort_by):
            return "ix_properties_city_rent"
    elif filters.sort_by is None:
        if filters == Filters(city=city, verified_only=verified):
            return "ix_properties_city_order"
        bhk = filters.bhk_type
        if bhk and filters == Filters(city=city, bhk_type=bhk, min_price=low, max_price=high, verified_only=verified):
            return "ix_properties_city_bhk_order"
    return None


def index_hint(filters: Filters, *, dense: bool) -> str | None:
    """How MariaDB should find a page: walk an index in sort order, or sort the matches it finds.

    Walking an index in sort order until a page of matches turns up reads a
    whole row for every entry it passes that the index cannot test: the
    optimizer takes that gamble on its estimates and loses it when a city and
    a price band leave one listing in a thousand. So a narrowed search walks
    only an index that tests all its filters (`city_index`), or the catalogue
    in its sort order when its matches are known to be dense; otherwise it sorts
    its (fewer than MAX_COUNTED) matches. The empty list names no index, so a
    database created before an index was added still runs the query.
    """
    if walked := city_index(filters):
        return f"FORCE INDEX ({walked})"
    if not narrowed(filters):
        return None
    if dense and filters.sort_by != "distance":
        return f"FORCE INDEX ({CATALOGUE_ORDER[filters.sort_by]})"
    return "USE INDEX FOR ORDER BY ()"


def page_query(filters: Filters, *, dense: bool = False) -> Select[Any]:
    """The ids of a search's matches in their order, with their sort keys and the distance from a given point.

    The caller adds OFFSET and LIMIT. No whole rows: on MariaDB a filtered
    search finds its page inside one index (see the Property indexes) and
    `search` reads whole rows only for the page itself. `dense`: the search has
    at least MAX_COUNTED matches (`index_hint`).
    """
    keys, descending = sort_keys(filters)
    columns = list(keys)
    if filters.lat is not None and filters.sort_by != "distance":
        columns.append(distance_from(filters).label("distance"))
    # Ordering by the selected columns (a label for the distance) computes nothing twice.
    query = select(*columns).where(*conditions(filters)).order_by(*in_order(keys, descending))
    if hint := index_hint(filters, dense=dense):
        query = query.with_hint(Property, hint, "mysql")
    return query


def words_alone(filters: Filters) -> list[str]:
    """The words of a search by words alone (or verified listings' words) in an order the word index holds."""
    alone = Filters(q=filters.q, verified_only=filters.verified_only, sort_by=filters.sort_by)
    if filters != alone or filters.sort_by not in (None, "recent"):
        return []
    return search_words(filters.q or "")


def capped_count_query(filters: Filters) -> Select[Any]:
    """One row per match, at most MAX_COUNTED of them: what `total_count` counts.

    A constant, not the id: MariaDB copies these rows into a temporary table to count them.
    """
    one: ColumnElement[int] = literal_column("1").label("one")
    return select(one).select_from(Property).where(*conditions(filters)).limit(MAX_COUNTED)


async def search(session: AsyncSession, filters: Filters, *, offset: int, limit: int) -> Found:
    if words := words_alone(filters):
        return await word_search(session, filters, words, offset=offset, limit=limit)
    total = await count(session, capped_count_query(filters))
    if total == 0:
        return Found([], 0, more=False)
    dense = total == MAX_COUNTED and offset + limit <= MAX_WALKED_DEPTH
    needed = offset + limit + 1  # the page and one more, to tell whether another page follows
    searched = filters
    if filters.sort_by == "distance" and total >= NARROWED_CIRCLE * needed:
        searched = await nearest(session, filters, needed, total)
    rows = await page_rows(session, searched, page_query(searched, dense=dense), offset=offset, limit=limit)
    return found(filters, rows, total, offset=offset, limit=limit)


async def word_search(session: AsyncSession, filters: Filters, words: list[str], *, offset: int, limit: int) -> Found:
    """A search by words alone, in the default or newest-first order, from the word index.

    The rarest word's listings are read and each tested for the other words,
    so a common word in the query ("flat") costs little. The first read finds
    up to MAX_COUNTED matches, counts them and returns the page: with fewer
    matches than that, it found them all. With more, the page is walked in the
    word index in sort order (`word_queries.walk`), unless the rarest word
    begins very many stored words (a walk per word would make a long
    statement): `page_query` then tests each listing it passes. One word that
    is one stored word needs no first read: its count came with its terms.
    """
    if (looked := looked_up(words, await session.execute(lookup_query(words, MAX_COUNTED)))) is None:
        return Found([], 0, more=False)
    words, terms, frequency = looked
    verified_only, needed, dense = filters.verified_only, offset + limit + 1, offset + limit <= MAX_WALKED_DEPTH
    if len(words) == 1 and len(terms[words[0]]) == 1 and not verified_only:
        walked = ordered(filters, walk(words, terms, verified_only=False, needed=needed))
        rows = await page_rows(session, filters, walked, offset=offset, limit=limit)
        return found(filters, rows, frequency[words[0]], offset=offset, limit=limit)
    matched = listings_with(words, terms, verified_only=verified_only).limit(MAX_COUNTED).subquery("matched")
    counted = select(*matched.c, func.count().over().label("total"))
    rows = await page_rows(session, filters, ordered(filters, counted), offset=offset, limit=limit)
    if not rows:
        total = await count(session, select(matched)) if offset else 0
        return Found([], total, more=False)
    total = rows[0].total
    if total == MAX_COUNTED:
        if len(terms[words[0]]) > MAX_TERMS:
            ids = page_query(filters, dense=dense)
        else:
            ids = ordered(filters, walk(words, terms, verified_only=verified_only, needed=needed))
        rows = await page_rows(session, filters, ids, offset=offset, limit=limit)
    return found(filters, rows, total, offset=offset, limit=limit)


def ordered(filters: Filters, ids: Select[Any]) -> Select[Any]:
    """`ids`, which selects a search's sort keys by name, in the search's order."""
    return ids.order_by(*by_name(filters, ids.selected_columns))


def by_name(filters: Filters, columns: Any) -> list[Any]:
    """The search's sort, on the columns of that name among `columns`."""
    keys, descending = sort_keys(filters)
    return in_order([columns[key.name] for key in keys], descending)


async def page_rows(
    session: AsyncSession, filters: Filters, ids: Select[Any], *, offset: int, limit: int
) -> Sequence[Row[Any]]:
    """The page of `ids` (a search's matches in order, with their sort keys) as whole rows, and one more id."""
    # The page's ids first, then their rows by primary key: a deep page skips ids, not whole rows.
    page = ids.offset(offset).limit(limit + 1).subquery("page")
    # Sorted by the page's own columns, MariaDB sorts the ids before it joins, not whole rows after.
    query = select(Property, page).join(page, Property.id == page.c.id).order_by(*by_name(filters, page.c))
    return (await session.execute(query)).all()


def found(filters: Filters, rows: Sequence[Row[Any]], total: int, *, offset: int, limit: int) -> Found:
    shown, more = trimmed(rows, offset, limit)
    return Found([(row[0], row.distance if filters.lat is not None else None) for row in shown], total, more)


def in_order(keys: list[Any], descending: bool) -> list[Any]:
    return [key.desc() for key in keys] if descending else keys


def trimmed(rows: Sequence[T], offset: int, limit: int) -> tuple[list[T], bool]:
    """A page's rows, fetched with one more than `limit`, and whether another page follows it."""
    return list(rows[:limit]), len(rows) > limit and offset + limit < MAX_PAGED


async def nearest(session: AsyncSession, filters: Filters, needed: int, total: int) -> Filters:
    """The search narrowed to a circle that holds its `needed` nearest matches, and not many more.

    The whole circle holds `total` matches (or more, if that is MAX_COUNTED),
    many times a page: sorting them all by distance would cost as much as the
    catalogue is dense. Every match inside a smaller circle is nearer than every
    match outside it, so once a smaller circle holds `needed` matches, its own
    sorted matches are the page.
    """
    radius = filters.radius_km or DEFAULT_RADIUS_KM
    # Were the matches spread evenly, this circle would hold NARROWED_CIRCLE times `needed`.
    inner = radius * math.sqrt(NARROWED_CIRCLE * needed / total)
    while inner < radius:
        narrower = replace(filters, radius_km=inner)
        if await count(session, capped_count_query(narrower)) >= needed:
            return narrower
        inner *= 2
    return filters


async def count(session: AsyncSession, matching: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(matching.subquery())) or 0)


@dataclass(frozen=True)
class LifestyleFilters:
    max_aqi: int | None = None
    max_noise: int | None = None
    min_walkability: int | None = None
    near_parks: bool = False
    budget: Decimal | None = None
    bhk: str | None = None


async def lifestyle_search(session: AsyncSession, filters: LifestyleFilters, *, offset: int, limit: int) -> Found:
    """Verified, active properties with lifestyle data, the cleanest air first."""
    data = Property.lifestyle_data
    aqi = data["aqi_score"].as_integer()
    where: list[ColumnElement[bool]] = [
        Property.status == "active",
        Property.is_verified.is_(True),
        Property.lifestyle_data.is_not(None),
    ]
    if filters.max_aqi is not None:
        where.append(aqi <= filters.max_aqi)
    if filters.max_noise is not None:
        where.append(data["noise_level"].as_integer() <= filters.max_noise)
    if filters.min_walkability is not None:
        where.append(data["walkability_score"].as_integer() >= filters.min_walkability)
    if filters.near_parks:
        where.append(data["nearby_parks"].as_integer() >= 1)
    if filters.budget is not None:
        where.append(Property.rent <= filters.budget)
    if filters.bhk:
        where.append(Property.bhk_type == filters.bhk)
    query = select(Property).where(*where).order_by(aqi, Property.id)
    rows, more = trimmed(list(await session.scalars(query.offset(offset).limit(limit + 1))), offset, limit)
    total = await count(session, select(Property.id).where(*where).limit(MAX_COUNTED))
    return Found([(prop, None) for prop in rows], total, more)
