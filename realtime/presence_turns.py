"""One user's presence announcements on this process, one at a time, in the order they came.

An announcement reads the database before it publishes, and two reads of one
user can finish in either order: a tab closed and at once reopened could
leave its counterparts with the slower, stale "offline" (realtime/presence.py,
docs/realtime.md). Each user's announcements therefore wait their turn; the
wait counts toward the announcement's own time limit, so one hung on the
database never holds the next longer than that limit.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable


class Turns:
    """`run(user_id, work, seconds)` runs `work` after the user's earlier ones, all within `seconds`."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}  # per user with work running or waiting
        self._queued: Counter[str] = Counter()  # that work, so that an idle user's lock goes

    def idle(self) -> bool:
        """Nothing kept: no user has work running or waiting."""
        return not self._locks and not self._queued

    async def run(self, user_id: str, work: Callable[[], Awaitable[None]], seconds: float) -> None:
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        self._queued[user_id] += 1
        try:
            async with asyncio.timeout(seconds), lock:  # the wait for earlier ones counts too
                await work()
        finally:
            self._queued[user_id] -= 1
            if not self._queued[user_id]:
                del self._queued[user_id], self._locks[user_id]
