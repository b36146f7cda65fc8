"""Failed-login counting in fixed windows, shared by every server process through the database.

A row per key counts failures since `window_start`; once a window is older
than its length, the next failure starts a new one. The increment is a single
upsert, so concurrent failures are all counted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import LoginThrottle
from persistence.types import UTCDateTime


async def seconds_blocked(session: AsyncSession, limits: dict[str, int], window: timedelta, now: datetime) -> int:
    """Seconds until the most restrictive of `limits` ({key: max failures}) allows another try; 0 if none blocks."""
    rows = await session.execute(
        select(LoginThrottle.key, LoginThrottle.failures, LoginThrottle.window_start).where(
            LoginThrottle.key.in_(limits), LoginThrottle.window_start > now - window
        )
    )
    waits = [
        int((window_start + window - now).total_seconds()) + 1
        for key, failures, window_start in rows
        if failures >= limits[key]
    ]
    return max(waits, default=0)


async def record_failure(session: AsyncSession, key: str, window: timedelta, now: datetime) -> None:
    expired = LoginThrottle.window_start <= now - window
    restart = literal(now, UTCDateTime)
    failures = case((expired, 1), else_=LoginThrottle.failures + 1)
    window_start = case((expired, restart), else_=LoginThrottle.window_start)
    values = {"key": key, "failures": 1, "window_start": now}
    if session.get_bind().dialect.name == "mysql":
        # MySQL applies these left to right: `failures` must read the old window_start.
        upsert = mysql_insert(LoginThrottle).values(values)
        await session.execute(upsert.on_duplicate_key_update(failures=failures, window_start=window_start))
    else:
        insert = sqlite_insert(LoginThrottle).values(values)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[LoginThrottle.key], set_={"failures": failures, "window_start": window_start}
            )
        )


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
