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
    table = LoginThrottle.__table__
    expired = table.c.window_start <= now - window
    values = {"key": key, "failures": 1, "window_start": now}
    restart = literal(now, UTCDateTime)
    if session.get_bind().dialect.name == "mysql":
        stmt = mysql_insert(table).values(values)
        # MySQL applies these left to right: `failures` must read the old window_start.
        stmt = stmt.on_duplicate_key_update(
            failures=case((expired, 1), else_=table.c.failures + 1),
            window_start=case((expired, restart), else_=table.c.window_start),
        )
    else:
        stmt = sqlite_insert(table).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case((expired, 1), else_=table.c.failures + 1),
                "window_start": case((expired, restart), else_=table.c.window_start),
            },
        )
    await session.execute(stmt)


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
