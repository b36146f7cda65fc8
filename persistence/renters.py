"""Renter discovery: visible renters whose stated preferences fit what an owner offers.

Preferences are the JSON document renters write through `PUT /api/users/me`.
A preference a renter left empty fits anything; one they stated must fit. City
names compare without case, as renters type them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import User


@dataclass(frozen=True)
class Wanted:
    city: str | None = None
    budget: Decimal | None = None  # the rent asked: renters whose budget reaches it
    bhk_type: str | None = None
    property_type: str | None = None


def list_has(dialect: str, key: str, value: str) -> ColumnElement[bool]:
    """The preference list `key` holds `value`, ignoring case."""
    preferences, path = User.renter_preferences, f"$.{key}"
    if dialect == "mysql":
        return func.json_contains(func.lower(preferences), func.json_quote(value.lower()), path) == 1
    items = func.json_each(preferences, path).table_valued("value")
    return exists(select(1).select_from(items).where(func.lower(items.c.value) == value.lower()))


def list_empty(dialect: str, key: str) -> ColumnElement[bool]:
    length = func.json_length if dialect == "mysql" else func.json_array_length
    return func.coalesce(length(User.renter_preferences, f"$.{key}"), 0) == 0


def fits(dialect: str, wanted: Wanted) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        User.user_type.in_(("renter", "both")),
        User.profile_visibility.is_(True),
        User.is_active.is_(True),
    ]
    if wanted.city:
        where.append(list_has(dialect, "preferred_cities", wanted.city))
    if wanted.budget is not None:
        budget_max = User.renter_preferences["budget_max"].as_integer()
        where.append(or_(budget_max.is_(None), budget_max >= wanted.budget))
    for key, value in (("bhk_types", wanted.bhk_type), ("property_types", wanted.property_type)):
        if value:
            where.append(or_(list_empty(dialect, key), list_has(dialect, key, value)))
    return where


async def search(
    session: AsyncSession, wanted: Wanted, *, exclude_id: str, offset: int, limit: int
) -> tuple[list[User], int]:
    """Verified renters first, then the most recently active."""
    where = [*fits(session.get_bind().dialect.name, wanted), User.id != exclude_id]
    order: list[Any] = [User.is_verified_renter.desc(), User.last_login.desc(), User.created_at.desc(), User.id]
    rows = list(await session.scalars(select(User).where(*where).order_by(*order).offset(offset).limit(limit)))
    total = await session.scalar(select(func.count()).select_from(User).where(*where))
    return rows, int(total or 0)
