"""Property search: the filters and sorts of the contract, shaped so the indexes can serve them.

Every filter is a column comparison (city and locality compare without case,
see `models.Caseless`); `q` goes through the full-text index (`fulltext.py`),
and a radius first narrows to a latitude/longitude box (`geo.py`). Counting
stops at MAX_COUNTED rows and paging at the same depth: counting or skipping
every match of a broad search would make its cost grow with the whole
catalogue, and nobody pages through ten thousand flats.

A page is found as ids first, inside an index where the filters allow (see
the Property indexes), and only its own rows are read whole: on a catalogue
larger than the database's memory, every whole row read is a disk read. A
search that has to sort all its matches anyway (words, a radius, a city with
other filters) counts them in the same pass. bench/search.py measures this.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.fulltext import matches, search_words
from persistence.geo import bounding_box, distance_km
from persistence.models import Property

MAX_COUNTED = 10_000
# The indexes that hold the whole catalogue in a sort order (models.Property).
CATALOGUE_ORDER = ("ix_properties_default_order", "ix_properties_recent", "ix_properties_rent")
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
    total: int


def conditions(filters: Filters, dialect: str) -> list[ColumnElement[bool]]:
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
        where.append(matches(dialect, words))
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


def walks_city_in_order(filters: Filters) -> bool:
    """True for a search in a city that filters on nothing its sort's city index lacks.

    Walking `(status, city, is_verified, created_at)`, or `(status, city, rent)`
    for a price sort, then passes only matches, already in order: the page reads
    just its own entries, however large the city.
    """
    if filters.sort_by in ("price_low", "price_high"):
        low, high = filters.min_price, filters.max_price
        only_city = Filters(city=filters.city, min_price=low, max_price=high, sort_by=filters.sort_by)
    else:
        only_city = Filters(city=filters.city, verified_only=filters.verified_only)
    return bool(filters.city) and filters == only_city


def sorts_every_match(filters: Filters) -> bool:
    """True when the page query reads and sorts every match: no index hands them over in the page's order.

    Unfiltered searches walk a catalogue-wide index in order, and so do the
    city searches of `walks_city_in_order`; every other narrowed search sorts.
    """
    return narrowed(filters) and not walks_city_in_order(filters)


def page_query(filters: Filters, dialect: str) -> Select[Any]:
    """The ids of a search's matches in their order, with their sort keys and the distance from a given point.

    The caller adds OFFSET and LIMIT. No whole rows: on MariaDB a filtered
    search finds its page inside one index (see the Property indexes) and
    `search` reads whole rows only for the page itself.
    """
    keys, descending = sort_keys(filters)
    columns = list(keys)
    if filters.lat is not None and filters.sort_by != "distance":
        columns.append(distance_from(filters).label("distance"))
    # Ordering by the selected columns (a label for the distance) computes nothing twice.
    order = [key.desc() for key in keys] if descending else keys
    query = select(*columns).where(*conditions(filters, dialect)).order_by(*order)
    if narrowed(filters):
        # Walking an index in sort order until a page of matches turns up reads
        # whole rows to test the other filters, as many as the walk passes: the
        # optimizer takes that gamble on its estimates and loses it when a city and
        # a price band leave one listing in a thousand. Sorting the matches is bounded.
        # The empty list names no index, so a database created before an index was
        # added (schema.sql only creates missing tables) still runs the query.
        if walks_city_in_order(filters):
            hint = f"IGNORE INDEX FOR ORDER BY ({', '.join(CATALOGUE_ORDER)})"
        else:
            hint = "USE INDEX FOR ORDER BY ()"
        query = query.with_hint(Property, hint, "mysql")
    return query


def capped_count_query(filters: Filters, dialect: str) -> Select[Any]:
    """One row per match, at most MAX_COUNTED of them: what `total_count` counts.

    A constant, not the id: MariaDB copies these rows into a temporary table to count them.
    """
    one: ColumnElement[int] = literal_column("1").label("one")
    return select(one).select_from(Property).where(*conditions(filters, dialect)).limit(MAX_COUNTED)


async def search(session: AsyncSession, filters: Filters, *, offset: int, limit: int) -> Found:
    dialect = session.get_bind().dialect.name
    ids = page_query(filters, dialect)
    # A page that reads every match to sort them counts them on the way (the
    # count is free there), instead of a second pass over the same matches.
    counted_here = sorts_every_match(filters)
    if counted_here:
        ids = ids.add_columns(func.count().over().label("matches"))
    page = ids.offset(offset).limit(limit).subquery("page")
    # The page's ids first, then their rows by primary key: a deep page skips ids, not whole rows.
    # Sorted by the page's own columns, MariaDB sorts the ids before it joins, not whole rows after.
    keys, descending = sort_keys(filters)
    order = [page.c[key.name] for key in keys]
    query = select(Property, page).join(page, Property.id == page.c.id)
    query = query.order_by(*([key.desc() for key in order] if descending else order))
    rows = (await session.execute(query)).all()
    found = [(row[0], row.distance if filters.lat is not None else None) for row in rows]
    if counted_here and rows:
        return Found(found, min(rows[0].matches, MAX_COUNTED))
    return Found(found, await total(session, filters, dialect))


async def total(session: AsyncSession, filters: Filters, dialect: str) -> int:
    """`total_count` of a search: its matches, counted up to MAX_COUNTED."""
    if filters == Filters(sort_by=filters.sort_by):
        # The whole catalogue, usually past MAX_COUNTED listings: finding the last
        # one counted answers without copying them all into a temporary table.
        last = capped_count_query(filters, dialect).offset(MAX_COUNTED - 1).limit(1)
        if await session.scalar(last) is not None:
            return MAX_COUNTED
    return await count(session, capped_count_query(filters, dialect))


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
    rows = list(await session.scalars(query.offset(offset).limit(limit)))
    return Found(
        [(prop, None) for prop in rows], await count(session, select(Property.id).where(*where).limit(MAX_COUNTED))
    )
