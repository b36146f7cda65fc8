"""The tokens a process's sockets hold, read against the database now and then.

A logout commits its revocation and then publishes `_revoked` on the user's
channel, which closes that token's sockets on every process with 4401. A
process that dies between the commit and the publish sends no event, and
owes no resync either; a user deactivated in the database publishes nothing
at all. Their sockets would then stay open until the token expires, a day
later. So each process asks, every `WS_TOKEN_RECHECK_SECONDS`, which of the
tokens it holds were revoked or belong to users gone or no longer active,
and puts `_revoked` into those sockets' mailboxes, as the event would have:
the writer closes them with 4401. Two indexed reads per 500 tokens, a few a
minute for a process with 5,000 sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence import users
from realtime.mailbox import Mailbox

log = logging.getLogger(__name__)

# Tokens per read: bounds the statements' IN lists.
MAX_TOKENS = 500
# Each wait is this much shorter or longer, at random: processes started together do not read together.
SPREAD = 0.2


class TokenWatch:
    """`holding` registers a socket's mailbox for its token; `start`/`stop` run the periodic check."""

    def __init__(self, read: async_sessionmaker[AsyncSession], every_seconds: float) -> None:
        self._read = read
        self._every = every_seconds
        self._held: dict[Mailbox, tuple[str, str]] = {}  # mailbox -> (user_id, jti)
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def holding(self, user_id: str, jti: str, mailbox: Mailbox) -> Iterator[None]:
        self._held[mailbox] = (user_id, jti)
        try:
            yield
        finally:
            del self._held[mailbox]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="token watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None

    async def check(self) -> int:
        """Tell every socket whose token lapsed; the number told."""
        held = list(self._held.items())
        told = 0
        for start in range(0, len(held), MAX_TOKENS):
            part = held[start : start + MAX_TOKENS]
            async with self._read() as session:
                revoked, inactive = await users.lapsed(session, {token for _, token in part})
            for mailbox, (user_id, jti) in part:
                # A closed one's socket is going; one told in an earlier round and still open is told again.
                if (jti in revoked or user_id in inactive) and not mailbox.closed:
                    mailbox.deliver({"type": "_revoked", "jti": jti})
                    told += 1
        return told

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every * random.uniform(1 - SPREAD, 1 + SPREAD))
            try:
                if told := await self.check():
                    log.info("closing %d sockets whose tokens were revoked without an event", told)
            except Exception as exc:  # the next round reads again; a failed one changes nothing
                log.warning("checking the sockets' tokens failed: %s", type(exc).__name__)
