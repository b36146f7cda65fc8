"""Shortlists: a renter's saved properties, one row per (user, property), with the property's counter kept in step."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Property, Shortlist
from persistence.types import quiet_update, utcnow


async def find(session: AsyncSession, user_id: str, property_id: str, *, latest: bool = False) -> Shortlist | None:
    """`latest`: a locking read, which sees rows committed after this transaction's snapshot (InnoDB)."""
    query = select(Shortlist).where(Shortlist.user_id == user_id, Shortlist.property_id == property_id)
    return await session.scalar(query.with_for_update(read=True) if latest else query)


async def add(session: AsyncSession, user_id: str, property_id: str, notes: str | None) -> tuple[Shortlist, bool]:
    """The entry, and whether it is new; adding twice (also at the same moment) keeps one row."""
    if (entry := await find(session, user_id, property_id)) is not None:
        return entry, False
    entry = Shortlist(user_id=user_id, property_id=property_id, notes=notes, created_at=utcnow())
    try:
        async with session.begin_nested():
            session.add(entry)
    except IntegrityError:  # a concurrent add won the unique key
        earlier = await find(session, user_id, property_id, latest=True)
        assert earlier is not None
        return earlier, False
    await bump(session, property_id, +1)
    return entry, True


async def remove(session: AsyncSession, user_id: str, property_id: str) -> bool:
    removed = await session.execute(
        delete(Shortlist).where(Shortlist.user_id == user_id, Shortlist.property_id == property_id)
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        await bump(session, property_id, -1)
    return bool(removed.rowcount)  # type: ignore[attr-defined]


async def bump(session: AsyncSession, property_id: str, by: int) -> None:
    await session.execute(
        quiet_update(Property)
        .where(Property.id == property_id)
        .values(shortlisted_count=Property.shortlisted_count + by)
    )


async def page(
    session: AsyncSession, user_id: str, *, offset: int, limit: int
) -> tuple[list[tuple[Shortlist, Property]], int]:
    """The user's entries whose property still exists, newest first, with the property."""
    where = (Shortlist.user_id == user_id, Property.status != "deleted")
    joined = select(Shortlist, Property).join(Property, Property.id == Shortlist.property_id).where(*where)
    rows = await session.execute(joined.order_by(Shortlist.created_at.desc(), Shortlist.id).offset(offset).limit(limit))
    total = await session.scalar(
        select(func.count()).select_from(Shortlist).join(Property, Property.id == Shortlist.property_id).where(*where)
    )
    return [(entry, prop) for entry, prop in rows.all()], int(total or 0)
