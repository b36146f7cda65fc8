"""Notification queries: a user's list, unread count, and marking read."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden, NotFound
from persistence.models import Notification
from persistence.types import is_issued_id


async def unread_count(session: AsyncSession, user_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id == user_id, ~Notification.is_read)
    )
    return int(count or 0)


async def page(
    session: AsyncSession, user_id: str, *, unread_only: bool, offset: int, limit: int
) -> tuple[list[Notification], int]:
    where = [Notification.user_id == user_id] + ([~Notification.is_read] if unread_only else [])
    total = await session.scalar(select(func.count()).select_from(Notification).where(*where))
    rows = await session.scalars(
        select(Notification)
        .where(*where)
        .order_by(Notification.created_at.desc(), Notification.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def mark_read(session: AsyncSession, user_id: str, notification_id: str) -> tuple[Notification, bool]:
    """The notification, marked read; the flag says whether it was unread before."""
    # A variant (`ABC…` for `abc…`) is unknown, as on SQLite: MariaDB's collation would find the row.
    notification = await session.get(Notification, notification_id) if is_issued_id(notification_id) else None
    if notification is None:
        raise NotFound("Notification not found")
    if notification.user_id != user_id:  # the contract's 403, as for a chat of others
        raise Forbidden("Not your notification")
    was_unread = not notification.is_read
    notification.is_read = True
    return notification, was_unread


async def mark_all_read(session: AsyncSession, user_id: str) -> int:
    result = await session.execute(
        update(Notification).where(Notification.user_id == user_id, ~Notification.is_read).values(is_read=True)
    )
    return cast(CursorResult[Any], result).rowcount
