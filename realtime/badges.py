"""The process's badge counter: every socket's recount shares one query with the others due at the time.

A `badge` event only says "this user's counts changed"; each socket then
sends the totals as the database has them (`docs/realtime.md`, Badges). With
one query per socket, a message cost its recipient's every socket a round
trip and an ORM session, and under load those recounts were the largest
share of a server's CPU. Here one task runs the recounts that queued up
while the previous query ran, for all their users at once
(`chats.badge_counts_many`): a lone recount runs at once, a burst shares one.

Counts stay the database's: a recount asked for after a commit is answered
by a query that starts after it, never by one already running.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from persistence import chats
from persistence.engine import HeldConnection, autocommit_reads

log = logging.getLogger(__name__)

# Users per query: bounds the statements' IN lists.
MAX_USERS = 500


class BadgeCounter:
    """`count(user_id)` answers (unread messages, unread notifications); `start`/`stop` run the task."""

    def __init__(self, engine: AsyncEngine) -> None:
        # Each recount is one SELECT that sees every commit before it, with no COMMIT round trip after it.
        self._connection = HeldConnection(autocommit_reads(engine))
        self._waiting: dict[str, list[asyncio.Future[tuple[int, int]]]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.queries = 0  # for tests and logs

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="badge counter")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
            await self._connection.close()
        for futures in self._waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(ConnectionError("the server is shutting down"))
        self._waiting.clear()

    async def count(self, user_id: str) -> tuple[int, int]:
        """The user's totals, read by a query that starts after this call; raises a storage error."""
        if self._task is None:
            raise ConnectionError("badge counting has not started")
        future: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(user_id, []).append(future)
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
            users = list(self._waiting)[:MAX_USERS]
            batch = {user_id: self._waiting.pop(user_id) for user_id in users}
            try:
                async with self._connection.lean(transaction=False) as db:
                    counts = await chats.badge_counts_many(db, users)
                self.queries += 1
            except Exception as exc:  # a failed query fails its callers, never the counter
                log.warning("counting badges failed: %s", type(exc).__name__)
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for user_id, futures in batch.items():
                for future in futures:
                    if not future.done():
                        future.set_result(counts[user_id])
