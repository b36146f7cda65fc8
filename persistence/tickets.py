"""One-time WebSocket tickets: stored as hashes, valid for a minute, deleted when used."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.tokens import Claims
from errors import RateLimited
from persistence.models import RealtimeTicket
from persistence.types import utcnow

TICKET_SECONDS = 60
# Unused tickets a user may hold at once. Each socket uses up its own, so only a client asking for
# tickets it never uses gets near this; without a cap it could fill the table a minute's worth at a time.
MAX_OPEN_TICKETS = 30


async def store_ticket(session: AsyncSession, claims: Claims, ticket_hash: str) -> int:
    """Store the ticket; returns its seconds to live: a minute, or less if the token expires sooner.

    Raises RateLimited while the user holds MAX_OPEN_TICKETS unused ones, until the oldest expires.
    """
    now = utcnow()
    expires_at = min(now + timedelta(seconds=TICKET_SECONDS), claims.expires_at)
    # Expired tickets of this user are swept here, so unused ones never pile up.
    await session.execute(
        delete(RealtimeTicket).where(RealtimeTicket.user_id == claims.user_id, RealtimeTicket.expires_at <= now)
    )
    open_ones = select(RealtimeTicket.expires_at).where(RealtimeTicket.user_id == claims.user_id)
    held = list(await session.scalars(open_ones.order_by(RealtimeTicket.expires_at).limit(MAX_OPEN_TICKETS)))
    if len(held) >= MAX_OPEN_TICKETS:
        wait = math.ceil((held[0] - now).total_seconds())
        raise RateLimited("Too many unused realtime tickets; use one or try again later", retry_after=wait)
    session.add(
        RealtimeTicket(
            ticket_hash=ticket_hash,
            user_id=claims.user_id,
            jti=claims.jti,
            token_expires_at=claims.expires_at,
            expires_at=expires_at,
        )
    )
    return max(0, int((expires_at - now).total_seconds()))


async def redeem_ticket(session: AsyncSession, ticket_hash: str, now: datetime) -> Claims | None:
    """The claims of the token the ticket stands for, once: the DELETE decides, so two processes cannot both use it."""
    ticket = await session.scalar(
        select(RealtimeTicket).where(RealtimeTicket.ticket_hash == ticket_hash, RealtimeTicket.expires_at > now)
    )
    if ticket is None:
        return None
    deleted = delete(RealtimeTicket).where(RealtimeTicket.ticket_hash == ticket_hash)
    result = cast(CursorResult[Any], await session.execute(deleted))
    if result.rowcount != 1:
        return None
    return Claims(ticket.user_id, ticket.jti, ticket.token_expires_at)
