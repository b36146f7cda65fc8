"""Property search: the filters and sorts of the contract, shaped so the indexes can serve them.

Every filter is a column comparison (city and locality compare without case,
see `models.Caseless`); `q` goes through the full-text index (`fulltext.py`),
and a radius first narrows to a latitude/longitude box (`geo.py`). Counting
stops at MAX_COUNTED rows and paging at the same depth: counting or skipping
every match of a broad search would make its cost grow with the whole
catalogue, and nobody pages through ten thousand flats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.fulltext import matches, search_words
from persistence.geo import bounding_box, distance_km
from persistence.models import Property

MAX_COUNTED = 10_000
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


def ordering(filters: Filters) -> list[Any]:
    """Sort keys ending in the id, all in one direction, so an index can return rows already in order."""
    if filters.sort_by == "price_low":
        return [Property.rent, Property.id]
    if filters.sort_by == "price_high":
        return [Property.rent.desc(), Property.id.desc()]
    if filters.sort_by == "recent":
        return [Property.created_at.desc(), Property.id.desc()]
    if filters.sort_by == "distance":
        return [distance_from(filters), Property.id]
    # The contract's default: verified listings first, then the newest.
    return [Property.is_verified.desc(), Property.created_at.desc(), Property.id.desc()]


def page_query(filters: Filters, dialect: str) -> Select[Any]:
    """The rows of a search in their order; the caller adds OFFSET and LIMIT."""
    columns: list[Any] = [Property]
    if filters.lat is not None:
        columns.append(distance_from(filters))
    return select(*columns).where(*conditions(filters, dialect)).order_by(*ordering(filters))


def capped_count_query(filters: Filters, dialect: str) -> Select[Any]:
    """The matching ids, at most MAX_COUNTED of them: what `total_count` counts."""
    return select(Property.id).where(*conditions(filters, dialect)).limit(MAX_COUNTED)


async def search(session: AsyncSession, filters: Filters, *, offset: int, limit: int) -> Found:
    dialect = session.get_bind().dialect.name
    rows = (await session.execute(page_query(filters, dialect).offset(offset).limit(limit))).all()
    found = [(row[0], row[1] if filters.lat is not None else None) for row in rows]
    return Found(found, await count(session, capped_count_query(filters, dialect)))


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
