"""Statements on the driver's cursor (`persistence/lean.py`) behave as the same statements through SQLAlchemy."""

from __future__ import annotations

from datetime import UTC

import httpx
import pytest
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from persistence.engine import HeldConnection, short_lived_engine
from persistence.lean import Lean, driver
from persistence.models import chats_table, messages_table
from settings import Settings
from tests.conftest import MYSQL_URL, MakeProperty, Register, bearer, open_chat

pytestmark = pytest.mark.timeout(60)

_m = messages_table.c
MESSAGES_OF_CHAT = Lean(
    select(_m.seq, _m.attachments, _m.created_at, _m.client_id).where(_m.chat_id == bindparam("chat")).order_by(_m.seq)
)
A_CHAT_AGAIN = Lean(insert(chats_table).from_select(list(chats_table.c.keys()), select(chats_table)))


async def test_values_come_back_through_the_columns_types(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    chat_id = await open_chat(client, renter, await make_property(owner))
    sent = {"message": "the lease", "attachments": ["/uploads/a.pdf"], "client_id": "c-1"}
    r = await client.post(f"/api/chats/{chat_id}/messages", json=sent, headers=bearer(renter["token"]))
    assert r.status_code == 201, r.text
    async with short_lived_engine(settings.database_url) as engine, engine.begin() as conn, driver(conn) as db:
        rows = await db.rows(MESSAGES_OF_CHAT, {"chat": chat_id})
    (first_seq, no_files, _, no_client), (seq, files, created_at, client_id) = rows
    assert (first_seq, no_files, no_client) == (1, None, None)
    assert (seq, files, client_id) == (2, ["/uploads/a.pdf"], "c-1")  # JSON decoded, like the ORM's
    assert created_at.tzinfo == UTC


async def test_a_refused_statement_raises_sqlalchemys_error(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    await open_chat(client, renter, await make_property(owner))
    async with short_lived_engine(settings.database_url) as engine, engine.connect() as conn:
        with pytest.raises(IntegrityError):  # every chat's id again
            async with conn.begin(), driver(conn) as db:
                await db.run(A_CHAT_AGAIN, {})
        assert await conn.scalar(text("SELECT COUNT(*) FROM chats")) == 1


@pytest.mark.mysql
async def test_a_lost_connection_is_invalidated(client: httpx.AsyncClient) -> None:
    async with short_lived_engine(MYSQL_URL) as engine, engine.connect() as conn:
        connection_id = await conn.scalar(text("SELECT CONNECTION_ID()"))
        await conn.commit()
        async with engine.connect() as other:
            await other.execute(text(f"KILL {int(connection_id or 0)}"))
        await conn.begin()
        async with driver(conn) as db:
            with pytest.raises(DBAPIError) as lost:
                await db.rows(MESSAGES_OF_CHAT, {"chat": "any"})
        assert lost.value.connection_invalidated
        assert conn.invalidated  # the pool will not hand it out again
        await conn.rollback()


CONNECTION_ID = Lean(select(func.connection_id()))


@pytest.mark.mysql
async def test_a_held_connections_cursor_is_kept_and_replaced_with_the_connection(client: httpx.AsyncClient) -> None:
    async with short_lived_engine(MYSQL_URL) as engine:
        held = HeldConnection(engine)
        async with held.lean() as db:
            ((first,),) = await db.rows(CONNECTION_ID, {})
        async with held.lean(transaction=False) as again:
            assert again is db and await again.rows(CONNECTION_ID, {}) == [(first,)]
        async with engine.connect() as other:
            await other.execute(text(f"KILL {int(first)}"))
        with pytest.raises(DBAPIError) as lost:
            async with held.lean() as db:
                await db.rows(CONNECTION_ID, {})
        assert lost.value.connection_invalidated
        async with held.lean() as fresh:  # a new connection, and a cursor of its own
            assert fresh is not db and (await fresh.rows(CONNECTION_ID, {}))[0][0] != first
        await held.close()


async def test_a_held_connection_returned_when_idle_takes_a_new_cursor(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    chat_id = await open_chat(client, renter, await make_property(owner))
    async with short_lived_engine(settings.database_url) as engine:
        held = HeldConnection(engine, idle_seconds=0.0)  # each use finds it idle and checks out another
        async with held.lean() as db:
            assert [seq for seq, *_ in await db.rows(MESSAGES_OF_CHAT, {"chat": chat_id})] == [1]
        async with held.lean(transaction=False) as again:
            assert again is not db
            assert [seq for seq, *_ in await again.rows(MESSAGES_OF_CHAT, {"chat": chat_id})] == [1]
        await held.close()
