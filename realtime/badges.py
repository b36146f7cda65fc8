"""The process's badge counter: every socket's recount shares one query with the others due at the time.

A `badge` event only says "this user's counts changed"; each socket then
sends the totals as the database has them (`docs/realtime.md`, Badges). With
one query per socket, a message cost its recipient's every socket a round
trip and an ORM session, and under load those recounts were the largest
share of a server's CPU. Here one task runs the recounts that queued up
since its previous query, for all their users at once
(`chats.badge_counts_many`), and runs at most one query every
`GATHER_SECONDS`: a lone recount runs at once, and under load the recounts
of that interval share one. At 500 messages a second over 200 sockets,
gathering took MariaDB's CPU per message down by about a sixth, at the
cost of badges arriving up to 20 ms later (bench/README.md).

Counts stay the database's: a recount asked for after a commit is answered
by a query that starts after it, never by one already running.

A socket's writer does not wait for its recount (`ask`): the totals come
back through a callback, so the frames queued behind a badge (an ack, the
next message) are not held up by a database round trip.

The held connection is not pinged before each query, so after a database
restart or failover the first query finds it dropped. A recount is a read,
safe to run twice: it is run again once on a fresh connection, as the send
batcher stores again, instead of failing every socket of the batch with 1013.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence import chats
from persistence.engine import HeldConnection, autocommit_reads

log = logging.getLogger(__name__)

# Users per query: bounds the statements' IN lists.
MAX_USERS = 500
# At most one query this often: nobody sees a badge 20 ms late, and a query serves that much more.
GATHER_SECONDS = 0.02

Counts = tuple[int, int]  # (unread messages, unread notifications)
Answer = Callable[[Counts | Exception], None]


class BadgeCounter:
    """`ask` answers a user's (unread messages, unread notifications); `start`/`stop` run the task."""

    def __init__(self, engine: AsyncEngine, gather_seconds: float = GATHER_SECONDS) -> None:
        # Each recount is one SELECT that sees every commit before it, with no COMMIT round trip after it.
        self._connection = HeldConnection(autocommit_reads(engine))
        self._gather_seconds = gather_seconds
        self._waiting: dict[str, list[Answer]] = {}
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
            await self._connection.close(discard=True)
        waiting, self._waiting = self._waiting, {}
        _fail(waiting, ConnectionError("the server is shutting down"))

    def ask(self, user_id: str, answer: Answer) -> None:
        """Call `answer` with the user's totals, read by a query that starts after this call, or its error."""
        if self._task is None:
            answer(ConnectionError("badge counting has not started"))
            return
        self._waiting.setdefault(user_id, []).append(answer)
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = -self._gather_seconds
        while True:
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
            if (pause := last + self._gather_seconds - loop.time()) > 0:
                await asyncio.sleep(pause)  # recounts asked meanwhile join this query
            last = loop.time()
            users = list(self._waiting)[:MAX_USERS]
            batch = {user_id: self._waiting.pop(user_id) for user_id in users}
            try:
                counts = await self._count(users)
            except asyncio.CancelledError:  # stopped mid-query: its callers hear so, as the waiting ones do
                _fail(batch, ConnectionError("the server is shutting down"))
                raise
            except Exception as exc:  # a failed query fails its callers, never the counter
                log.warning("counting badges failed: %s", type(exc).__name__)
                _fail(batch, exc)
                continue
            for user_id, answers in batch.items():
                for answer in answers:
                    answer(counts[user_id])

    async def _count(self, users: list[str]) -> dict[str, Counts]:
        """The users' totals; a held connection found dropped is replaced and the query run again, once."""
        try:
            return await self._query(users)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            log.info("counting badges: the database dropped the held connection; counting on a fresh one")
            return await self._query(users)

    async def _query(self, users: list[str]) -> dict[str, Counts]:
        async with self._connection.lean(transaction=False) as db:
            counts = await chats.badge_counts_many(db, users)
        self.queries += 1
        return counts


def _fail(batch: dict[str, list[Answer]], exc: Exception) -> None:
    for answers in batch.values():
        for answer in answers:
            answer(exc)
