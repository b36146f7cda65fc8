"""bcrypt, always in a worker thread and never on the event loop.

Hashing is deliberately slow (about 250 ms at cost 12), so the number of
threads hashing at once is capped below the number of cores: a burst of logins
then queues for a hashing thread instead of taking every core from the event
loop that serves everyone else.
"""

from __future__ import annotations

import os

import anyio
import bcrypt

MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt 5: refuses) anything longer
MIN_PASSWORD_BYTES = 8


def hashing_threads() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


class Passwords:
    def __init__(self, rounds: int, threads: int | None = None) -> None:
        self.rounds = rounds
        self._limiter = anyio.CapacityLimiter(threads or hashing_threads())
        self._dummy_hash: bytes | None = None

    async def prepare(self) -> None:
        """Make the dummy hash that unknown users are checked against, at the real cost."""
        self._dummy_hash = (await self.hash("no-such-user-dummy-password")).encode()

    async def hash(self, password: str) -> str:
        hashed = await anyio.to_thread.run_sync(self._hash, password.encode(), limiter=self._limiter)
        return hashed.decode()

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Check a password; with no hash (unknown user) check a dummy so timing reveals nothing."""
        if hashed is None:
            if self._dummy_hash is None:
                await self.prepare()
            assert self._dummy_hash is not None
            await anyio.to_thread.run_sync(self._check, password.encode(), self._dummy_hash, limiter=self._limiter)
            return False
        return await anyio.to_thread.run_sync(self._check, password.encode(), hashed.encode(), limiter=self._limiter)

    def _hash(self, password: bytes) -> bytes:
        return bcrypt.hashpw(password, bcrypt.gensalt(self.rounds))

    @staticmethod
    def _check(password: bytes, hashed: bytes) -> bool:
        if len(password) > MAX_PASSWORD_BYTES:
            return False
        try:
            return bcrypt.checkpw(password, hashed)
        except ValueError:  # a malformed stored hash: never a match
            return False
