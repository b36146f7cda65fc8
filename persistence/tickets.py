"""One-time WebSocket tickets: stored as hashes, valid for a minute, deleted when used."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import RealtimeTicket
from persistence.types import utcnow

TICKET_SECONDS = 60


async def store_ticket(session: AsyncSession, user_id: str, ticket_hash: str) -> None:
    now = utcnow()
    # Expired tickets of this user are swept here, so the table never grows with unused ones.
    await session.execute(
        delete(RealtimeTicket).where(RealtimeTicket.user_id == user_id, RealtimeTicket.expires_at <= now)
    )
    session.add(
        RealtimeTicket(ticket_hash=ticket_hash, user_id=user_id, expires_at=now + timedelta(seconds=TICKET_SECONDS))
    )


async def redeem_ticket(session: AsyncSession, ticket_hash: str) -> str | None:
    """The ticket's user, once: the DELETE decides, so two processes cannot both redeem it."""
    user_id = await session.scalar(
        select(RealtimeTicket.user_id).where(
            RealtimeTicket.ticket_hash == ticket_hash, RealtimeTicket.expires_at > utcnow()
        )
    )
    if user_id is None:
        return None
    deleted = delete(RealtimeTicket).where(RealtimeTicket.ticket_hash == ticket_hash)
    result = cast(CursorResult[Any], await session.execute(deleted))
    return user_id if result.rowcount == 1 else None
