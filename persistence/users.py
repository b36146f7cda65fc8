"""Queries and rules for accounts."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from errors import BadRequest
from persistence.models import RevokedToken, User
from persistence.types import utcnow

DUPLICATE_ACCOUNT = "Email or phone already registered"


async def create_user(session: AsyncSession, **fields: Any) -> User:
    """Insert a user; an email or phone already taken is a 400, also when two registrations race."""
    taken = await session.scalar(
        select(User.id).where(or_(User.email == fields["email"], User.phone == fields["phone"])).limit(1)
    )
    if taken is not None:
        raise BadRequest(DUPLICATE_ACCOUNT)
    user = User(**fields)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise BadRequest(DUPLICATE_ACCOUNT) from None
    return user


async def find_by_login(session: AsyncSession, *, email: str | None, phone: str | None) -> User | None:
    if email is not None:
        return await session.scalar(select(User).where(User.email == email))
    if phone is not None:
        return await session.scalar(select(User).where(User.phone == phone))
    return None


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def user_for_token(session: AsyncSession, user_id: str, jti: str) -> User | None:
    """The active user a token names, or None if the user is gone, inactive or the token revoked."""
    revoked = exists().where(RevokedToken.jti == jti)
    return await session.scalar(select(User).where(User.id == user_id, User.is_active.is_(True), ~revoked))


async def lapsed(session: AsyncSession, tokens: Collection[tuple[str, str]]) -> tuple[set[str], set[str]]:
    """Of (user_id, jti) pairs: the jtis revoked, and the users gone or no longer active. Two indexed reads."""
    jtis, user_ids = {jti for _, jti in tokens}, {user_id for user_id, _ in tokens}
    revoked = set(await session.scalars(select(RevokedToken.jti).where(RevokedToken.jti.in_(jtis))))
    active = set(await session.scalars(select(User.id).where(User.id.in_(user_ids), User.is_active.is_(True))))
    return revoked, user_ids - active


async def revoke_token(session: AsyncSession, *, jti: str, user_id: str, expires_at: datetime) -> None:
    if await session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, user_id=user_id, expires_at=expires_at))


def effective_tier(user: User, now: datetime | None = None) -> str:
    """Premium only while the paid period lasts: an expired subscription is free again."""
    now = now or datetime.now(UTC)
    if user.subscription_tier == "premium" and user.subscription_end is not None and user.subscription_end > now:
        return "premium"
    return "free"


def touch_login(user: User) -> None:
    user.last_login = utcnow()
