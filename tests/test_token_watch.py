"""The periodic read of a process's sockets' tokens (realtime/token_watch.py), on the real database.

The end-to-end case, a socket closed with 4401, is in test_ws_auth.py; here, which mailboxes are told
when the tokens span several reads, and that a socket that left is no longer read for.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.tokens import decode_token
from persistence.engine import make_read_sessionmaker, short_lived_engine
from persistence.models import RevokedToken, User
from realtime import token_watch
from realtime.mailbox import Mailbox
from realtime.token_watch import TokenWatch
from settings import DEV_JWT_SECRET, Settings
from tests.conftest import Register
from tests.live import TEST_PASSWORD, run_sql

pytestmark = pytest.mark.timeout(60)


async def test_each_socket_of_a_lapsed_token_is_told_across_reads_and_a_closed_one_is_not_read(
    client: httpx.AsyncClient, register: Register, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_watch, "MAX_TOKENS", 2)  # four sockets: two reads
    logged_out, deactivated = await register(), await register()
    credentials = {"email": logged_out["user"]["email"], "password": TEST_PASSWORD}
    second = (await client.post("/api/auth/login", json=credentials)).json()
    tokens = [decode_token(t["token"], DEV_JWT_SECRET) for t in (logged_out, logged_out, second, deactivated)]
    revoked = tokens[0]

    async def as_a_lost_logout_and_an_operator_would(session: AsyncSession) -> None:
        session.add(RevokedToken(jti=revoked.jti, user_id=revoked.user_id, expires_at=revoked.expires_at))
        await session.execute(update(User).where(User.id == deactivated["user_id"]).values(is_active=False))

    await run_sql(settings.database_url, as_a_lost_logout_and_an_operator_would)
    async with short_lived_engine(settings.database_url) as engine:
        statements: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        watch = TokenWatch(make_read_sessionmaker(engine), every_seconds=60)
        mailboxes = [Mailbox(f"user:{claims.user_id}", 16) for claims in tokens]
        with (
            watch.holding(tokens[0].user_id, tokens[0].jti, mailboxes[0]),
            watch.holding(tokens[1].user_id, tokens[1].jti, mailboxes[1]),  # a second tab on the same token
            watch.holding(tokens[2].user_id, tokens[2].jti, mailboxes[2]),
        ):
            with watch.holding(tokens[3].user_id, tokens[3].jti, mailboxes[3]):
                assert await watch.check() == 3
                reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
                assert len(reads) == 4, reads  # two reads of two statements each: no IN list over MAX_TOKENS
            assert [await mailbox.get() for mailbox in mailboxes[:2]] == [{"type": "_revoked", "jti": revoked.jti}] * 2
            assert (await mailboxes[3].get())["jti"] == tokens[3].jti
            assert len(mailboxes[2]) == 0  # the user's other token is good
            assert await watch.check() == 2  # the deactivated user's socket left: no longer read for
            mailboxes[0].close()
            assert await watch.check() == 1  # a closed one's socket is going: not told, not counted
        assert await watch.check() == 0


async def test_a_failed_read_leaves_the_sockets_open_and_the_watch_reading_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = f"sqlite+aiosqlite:///{tmp_path / 'no such folder' / 'homer.db'}"
    async with short_lived_engine(unreachable) as engine:
        watch = TokenWatch(make_read_sessionmaker(engine), every_seconds=0.05)
        mailbox = Mailbox("user:someone", 16)
        with caplog.at_level(logging.WARNING, logger=token_watch.__name__), watch.holding("someone", "jti", mailbox):
            watch.start()
            try:
                await asyncio.sleep(0.5)  # about ten rounds
            finally:
                await watch.stop()
        assert len(mailbox) == 0 and not mailbox.closed
        failures = [r.getMessage() for r in caplog.records if r.name == token_watch.__name__]
        assert len(failures) >= 3 and set(failures) == {"checking the sockets' tokens failed: OperationalError"}
