"""Listings: who may write them, and the counters that many readers bump at once.

Counters are updated with `SET n = n + 1` in SQL, never read, incremented and
written back, so concurrent views, contacts and shortlists are all counted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden, NotFound
from persistence.models import Property, User
from persistence.types import is_issued_id, quiet_update

LOCATION_FIELDS = ("address", "city", "state", "pincode", "latitude", "longitude", "locality", "landmarks")
# A move that changes any of these gets fresh lifestyle data.
PLACE_FIELDS = ("city", "latitude", "longitude", "locality")


def can_list(user: User) -> bool:
    return user.user_type in ("owner", "both")


async def visible(session: AsyncSession, property_id: str, *, lock: bool = False) -> Property:
    """A property anyone may see: any status but deleted."""
    if not is_issued_id(property_id):  # MariaDB would find `abc…` under `ABC…`; SQLite would not
        raise NotFound("Property not found")
    query = select(Property).where(Property.id == property_id, Property.status != "deleted")
    prop = await session.scalar(query.with_for_update() if lock else query)
    if prop is None:
        raise NotFound("Property not found")
    return prop


async def owned(session: AsyncSession, property_id: str, owner: User, *, lock: bool = False) -> Property:
    """The caller's own property, locked for a change when asked; someone else's is a 403."""
    prop = await visible(session, property_id, lock=lock)
    if prop.owner_id != owner.id:
        raise Forbidden("Not your property")
    return prop


def create(
    session: AsyncSession,
    owner: User,
    fields: dict[str, Any],
    location: dict[str, Any],
    details: dict[str, Any],
    lifestyle: dict[str, Any],
) -> Property:
    prop = Property(
        owner_id=owner.id,
        **fields,
        **{name: value for name, value in location.items() if value is not None},
        details=details,
        furnishing=details.get("furnishing"),
        lifestyle_data=lifestyle,
        images=[],
    )
    session.add(prop)
    return prop


def apply_update(prop: Property, changes: dict[str, Any]) -> bool:
    """Apply an owner's changes; True when the property moved (its lifestyle data is stale).

    `location` and `details` are merged over what is stored: a key sent as
    null clears it, a key not sent stays.
    """
    location = changes.pop("location", None) or {}
    before = {name: getattr(prop, name) for name in PLACE_FIELDS}
    for name, value in location.items():
        setattr(prop, name, value if value is not None or name in ("latitude", "longitude", "landmarks") else "")
    if "details" in changes:
        merged = (prop.details or {}) | changes.pop("details")
        prop.details = {key: value for key, value in merged.items() if value is not None}
        prop.furnishing = prop.details.get("furnishing")
    for name, value in changes.items():
        setattr(prop, name, value)
    return any(getattr(prop, name) != before[name] for name in PLACE_FIELDS)


async def count_view(session: AsyncSession, property_id: str, *, premium: bool, now: datetime) -> None:
    await session.execute(
        quiet_update(Property)
        .where(Property.id == property_id)
        .values(
            total_views=Property.total_views + 1,
            premium_views=Property.premium_views + (1 if premium else 0),
            last_viewed=now,
        )
    )


async def mine(session: AsyncSession, owner_id: str, *, offset: int, limit: int) -> tuple[list[Property], int]:
    """A page of the owner's properties that are not deleted, newest first, and how many there are."""
    where = (Property.owner_id == owner_id, Property.status != "deleted")
    query = select(Property).where(*where).order_by(Property.created_at.desc(), Property.id)
    rows = list(await session.scalars(query.offset(offset).limit(limit)))
    return rows, int(await session.scalar(select(func.count()).where(*where)) or 0)
