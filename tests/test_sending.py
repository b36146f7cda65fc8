"""The send batcher on a real database: one transaction for many sends, each send with its own outcome.

The app under `client` creates the users and chats; each test drives its own
`Sender` on the same database (as a second server process would), so that it
knows which sends shared a batch.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from errors import Conflict, Forbidden, NotFound
from persistence import messages
from persistence.engine import HeldConnection, Unreachable, make_sessionmaker, short_lived_engine
from persistence.models import Chat
from persistence.sends import Draft
from persistence.types import utcnow
from realtime.fanout import Fanout
from realtime.mailbox import Mailbox
from realtime.outbox import user_channel
from realtime.sending import Sender, Sent
from settings import Settings
from tests.conftest import MYSQL_URL, MakeProperty, Register, bearer, open_chat

pytestmark = pytest.mark.timeout(60)

POOL_WAIT_SECONDS = 1


@pytest.fixture
async def sender(client: httpx.AsyncClient, settings: Settings) -> AsyncIterator[tuple[Sender, Fanout]]:
    async with short_lived_engine(settings.database_url) as engine:
        fanout = Fanout("memory://")
        await fanout.connect()
        batcher = Sender(engine, fanout)
        batcher.start()
        try:
            yield batcher, fanout
        finally:
            await batcher.stop()
            await fanout.disconnect()


async def history(client: httpx.AsyncClient, user: dict[str, Any], chat_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"/api/chats/{chat_id}/messages", params={"limit": 100}, headers=bearer(user["token"]))
    assert r.status_code == 200, r.text
    return r.json()["messages"]  # type: ignore[no-any-return]


async def messages_heard(mailbox: Mailbox, count: int) -> list[int]:
    """The seqs of the next `count` message events, then a check that no more arrive."""
    seqs: list[int] = []
    async with asyncio.timeout(5):
        while len(seqs) < count:
            event = await mailbox.get()
            if event["type"] == "message":
                seqs.append(event["message"]["seq"])
    await asyncio.sleep(0.2)
    while len(mailbox):
        event = await mailbox.get()
        assert event["type"] != "message", f"a message event too many: {event}"
    return seqs


async def test_one_batch_stores_the_good_sends_and_refuses_the_bad_ones_alone(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, sender: tuple[Sender, Fanout]
) -> None:
    owner = await register(user_type="owner")
    renter, stranger = await register(), await register()
    chat_id = await open_chat(client, renter, await make_property(owner))
    blocked = await open_chat(client, renter, await make_property(owner))
    assert (await client.post(f"/api/chats/{blocked}/block", headers=bearer(owner["token"]))).status_code == 200
    body = {"message": "first", "client_id": "dup"}
    first = await client.post(f"/api/chats/{chat_id}/messages", json=body, headers=bearer(renter["token"]))
    assert first.status_code == 201, first.text
    batcher, fanout = sender
    me, them, other = renter["user_id"], owner["user_id"], stranger["user_id"]
    drafts = [
        Draft(me, chat_id, "good one", [], "g-1"),
        Draft(me, chat_id, "first", [], "dup"),  # a retry of a send stored earlier
        Draft(me, blocked, "let me in", [], "b-1"),
        Draft(other, chat_id, "hello?", [], "s-1"),
        Draft(me, "no-such-chat", "anyone?", [], "n-1"),
        Draft(me, chat_id, "twice", [], "g-2"),
        Draft(me, chat_id, "twice", [], "g-2"),  # the retry lands in the same batch as its first copy
        Draft(them, chat_id, "reply", [{"url": "/uploads/plan.pdf", "name": "plan.pdf"}], "o-1"),
    ]
    async with fanout.subscribe(user_channel(them), maxsize=100) as heard:
        before = batcher.batches
        outcomes = await asyncio.gather(*(batcher.send(draft) for draft in drafts), return_exceptions=True)
        assert batcher.batches == before + 1, "the sends did not share one transaction"
        good, dup, refused_blocked, refused_stranger, unknown, twice, twice_again, reply = outcomes
        assert isinstance(good, Sent) and good.message.seq == 3 and not good.duplicate
        assert isinstance(dup, Sent) and dup.duplicate
        assert dup.message.message_id == first.json()["message_id"] and dup.message.seq == 2
        assert isinstance(refused_blocked, Forbidden) and refused_blocked.detail == "This chat is blocked"
        assert isinstance(refused_stranger, Forbidden) and isinstance(unknown, NotFound)
        assert isinstance(twice, Sent) and isinstance(twice_again, Sent) and twice_again.duplicate
        assert twice.message.seq == 4 and twice_again.message.message_id == twice.message.message_id
        assert isinstance(reply, Sent) and reply.message.seq == 5 and reply.message.sender_type == "owner"
        # The stored ones, each once, and the earlier copy the retry found, announced again (its events
        # may have been lost); the copy of g-2 stored in this batch is announced by its first send alone.
        assert await messages_heard(heard, 4) == [3, 2, 4, 5]
    stored = await history(client, owner, chat_id)
    assert [(m["seq"], m["client_id"]) for m in stored] == [(1, None), (2, "dup"), (3, "g-1"), (4, "g-2"), (5, "o-1")]
    assert stored[4]["attachments"] == [{"url": "/uploads/plan.pdf", "name": "plan.pdf"}]
    assert [m["seq"] for m in await history(client, owner, blocked)] == [1]
    chat = (await client.get(f"/api/chats/{chat_id}", headers=bearer(owner["token"]))).json()
    assert chat["unread_count"] == 0  # writing seq 5 read the chat for the owner


@pytest.mark.parametrize("copy_in", ["same chat", "other chat"])
async def test_a_send_racing_a_copy_of_its_client_id_gets_that_copy_or_a_conflict_and_its_batch_is_stored(
    client: httpx.AsyncClient,
    register: Register,
    make_property: MakeProperty,
    settings: Settings,
    sender: tuple[Sender, Fanout],
    copy_in: str,
) -> None:
    owner = await register(user_type="owner")
    renter = await register()
    chat_id = await open_chat(client, renter, await make_property(owner))
    copy_chat = chat_id if copy_in == "same chat" else await open_chat(client, renter, await make_property(owner))
    batcher, _ = sender
    holding, release = asyncio.Event(), asyncio.Event()

    async def copy_in_another_process() -> str:
        """Store the copy and keep its transaction (and locks) open until told to commit."""
        async with short_lived_engine(settings.database_url) as engine, make_sessionmaker(engine).begin() as session:
            chat = await session.get(Chat, copy_chat)
            assert chat is not None
            stored = await messages.store_message(session, chat, renter["user_id"], "race", [], "r-1", utcnow())
            holding.set()
            await release.wait()
        return stored.message.id

    other = asyncio.create_task(copy_in_another_process())
    await holding.wait()
    before = batcher.batches
    drafts = [
        Draft(renter["user_id"], chat_id, "race", [], "r-1"),
        Draft(renter["user_id"], chat_id, "next", [], "r-2"),
        Draft(owner["user_id"], chat_id, "reply", [], "o-1"),
    ]
    sends = asyncio.gather(*(batcher.send(draft) for draft in drafts), return_exceptions=True)
    # Same chat: the batch waits for the chat's row lock, then finds the copy. Other chat: it finds no
    # copy, and its INSERT waits for the copy's unique key.
    await waiting_for(settings, "SELECT chats.id%FOR UPDATE" if copy_in == "same chat" else "INSERT INTO messages%")
    release.set()
    copy_id = await other
    racing, following, reply = await sends
    if copy_in == "same chat":
        assert isinstance(racing, Sent) and racing.duplicate and racing.message.message_id == copy_id
    else:  # a client_id is unique per sender: a copy in another chat is no retry of this send
        assert isinstance(racing, Conflict) and "already used for a message in another chat" in racing.detail
    assert isinstance(following, Sent) and isinstance(reply, Sent)
    first_free = 3 if copy_in == "same chat" else 2
    assert sorted([following.message.seq, reply.message.seq]) == [first_free, first_free + 1]
    stored = await history(client, owner, chat_id)
    assert [m["seq"] for m in stored] == list(range(1, first_free + 2))
    assert [m["client_id"] for m in stored[first_free - 1 :]] in (["r-2", "o-1"], ["o-1", "r-2"])
    # The batch's first INSERT hit the copy's unique key once the copy committed; the batch was rolled
    # back and stored again whole, finding the copy, not one send at a time.
    assert batcher.batches - before == 1


async def waiting_for(settings: Settings, statement: str) -> None:
    """Wait until the batch's statement waits for a lock (MariaDB); on SQLite give the batch time to queue."""
    if not MYSQL_URL:
        await asyncio.sleep(0.3)
        return
    query = text("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE info LIKE :waiting")
    async with short_lived_engine(settings.database_url) as engine, asyncio.timeout(10):
        while True:
            async with engine.connect() as connection:
                if (await connection.execute(query, {"waiting": statement})).scalar():
                    return
            await asyncio.sleep(0.02)


async def test_one_batch_moves_each_of_its_chats_to_its_own_seqs(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, sender: tuple[Sender, Fanout]
) -> None:
    owner = await register(user_type="owner")
    renters = [await register() for _ in range(3)]
    chat_ids = [await open_chat(client, renter, await make_property(owner)) for renter in renters]
    batcher, _ = sender
    drafts = [Draft(renters[0]["user_id"], chat_ids[0], "one", [], None)]
    drafts += [Draft(renters[1]["user_id"], chat_ids[1], f"two {n}", [], None) for n in range(2)]
    drafts += [Draft(owner["user_id"], chat_ids[2], f"three {n}", [], None) for n in range(3)]
    before = batcher.batches
    await asyncio.gather(*(batcher.send(draft) for draft in drafts))
    assert batcher.batches == before + 1, "the sends did not share one transaction"
    for chat_id, last_seq in zip(chat_ids, (2, 3, 4), strict=True):
        assert [m["seq"] for m in await history(client, owner, chat_id)] == list(range(1, last_seq + 1))
    # The owner's read seq moved in the chat the owner wrote to only; each renter's in their own.
    for user, unread in ((owner, 2 + 3), (renters[0], 0), (renters[1], 0), (renters[2], 3)):
        r = await client.get("/api/chats/unread-count", headers=bearer(user["token"]))
        assert r.status_code == 200 and r.json()["unread_count"] == unread, r.text


@pytest.mark.mysql
async def test_a_held_connection_is_reused_and_replaced_once_the_server_drops_it() -> None:
    async with short_lived_engine(MYSQL_URL) as engine:
        held = HeldConnection(engine)
        async with held.begin() as conn:
            first = await conn.scalar(text("SELECT CONNECTION_ID()"))
        async with held.begin() as conn:
            assert await conn.scalar(text("SELECT CONNECTION_ID()")) == first
        async with engine.connect() as other:
            await other.execute(text(f"KILL {int(first or 0)}"))
        with pytest.raises(DBAPIError) as dropped:
            async with held.begin() as conn:
                await conn.scalar(text("SELECT 1"))
        assert dropped.value.connection_invalidated
        async with held.begin() as conn:
            assert await conn.scalar(text("SELECT CONNECTION_ID()")) != first
        await held.close()


@pytest.mark.mysql
async def test_a_send_is_stored_after_the_server_dropped_every_connection(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, sender: tuple[Sender, Fanout]
) -> None:
    batcher, _ = sender
    owner, renter = await register(user_type="owner"), await register()
    chat_id = await open_chat(client, renter, await make_property(owner))
    await batcher.send(Draft(renter["user"]["user_id"], chat_id, "before", [], None))
    async with short_lived_engine(MYSQL_URL) as engine, engine.connect() as killer:
        others = await killer.scalars(
            text("SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()")
        )
        for connection_id in list(others):
            await killer.execute(text(f"KILL {int(connection_id)}"))
    sent = await batcher.send(Draft(renter["user"]["user_id"], chat_id, "after", [], None))
    assert sent.message.seq == 3  # the chat's opening message, "before", "after"
    assert [m["message"] for m in await history(client, renter, chat_id)][-2:] == ["before", "after"]


async def test_stopping_waits_for_the_batch_being_stored(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    chat_id = await open_chat(client, renter, await make_property(owner))
    async with short_lived_engine(settings.database_url) as engine:
        batcher = Sender(engine, Fanout("memory://"))
        batcher.start()
        # Another transaction holds the chat's row (on SQLite, the write lock): the batch waits for it.
        async with make_sessionmaker(engine).begin() as holder:
            await holder.execute(select(Chat).where(Chat.id == chat_id).with_for_update())
            sending = asyncio.create_task(batcher.send(Draft(renter["user"]["user_id"], chat_id, "late", [], None)))
            await asyncio.sleep(0.2)
            stopping = asyncio.create_task(batcher.stop())
            await asyncio.sleep(0.2)
        await stopping
        assert (await asyncio.wait_for(sending, 5)).message.message == "late"
    assert [m["message"] for m in await history(client, renter, chat_id)][-1] == "late"


async def test_sends_that_find_no_free_connection_all_fail_after_one_wait_for_the_pool(settings: Settings) -> None:
    """Every pooled connection busy (a hung database holds them): the batch fails whole, not one wait per send."""
    engine = create_async_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=POOL_WAIT_SECONDS)
    batcher = Sender(engine, Fanout("memory://"))
    batcher.start()
    try:
        async with engine.connect():  # the pool's one connection, busy throughout
            drafts = [Draft(str(uuid.uuid4()), str(uuid.uuid4()), f"send {n}", [], None) for n in range(6)]
            loop = asyncio.get_running_loop()
            started = loop.time()
            outcomes = await asyncio.gather(*(batcher.send(draft) for draft in drafts), return_exceptions=True)
            took = loop.time() - started
    finally:
        await batcher.stop()
        await engine.dispose()
    assert all(isinstance(outcome, Unreachable) for outcome in outcomes), outcomes
    assert took < 3 * POOL_WAIT_SECONDS, took  # a lone send's wait, then the rest's one wait
