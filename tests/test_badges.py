"""The badge counter on a real database: many users' recounts in one query, each with its own totals.

The app under `client` creates the users, chats and notifications; each test
drives its own `BadgeCounter` on the same database, so that it knows which
recounts shared a query.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from persistence import chats
from persistence.engine import short_lived_engine
from realtime.badges import BadgeCounter, Counts
from settings import Settings
from tests.conftest import MakeProperty, Register, bearer, open_chat, through
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def counter(client: httpx.AsyncClient, settings: Settings) -> AsyncIterator[BadgeCounter]:
    async with short_lived_engine(settings.database_url) as engine:
        badges = BadgeCounter(engine)
        badges.start()
        try:
            yield badges
        finally:
            await badges.stop()


async def count(counter: BadgeCounter, user_id: str) -> Counts:
    """The user's totals as the socket's writer gets them from `ask`, awaited; raises the recount's error."""
    future: asyncio.Future[Counts] = asyncio.get_running_loop().create_future()

    def answer(outcome: Counts | Exception) -> None:
        if future.done():  # its caller was cancelled
            return
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    counter.ask(user_id, answer)
    return await future


async def say(client: httpx.AsyncClient, user: dict[str, Any], chat_id: str, text: str) -> None:
    r = await client.post(f"/api/chats/{chat_id}/messages", json={"message": text}, headers=bearer(user["token"]))
    assert r.status_code == 201, r.text


async def test_concurrent_recounts_share_one_query_and_each_user_gets_their_own_totals(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, counter: BadgeCounter
) -> None:
    owner = await register(user_type="owner")
    both = await register(user_type="both")
    renter, quiet = await register(), await register()
    first = await open_chat(client, renter, await make_property(owner))  # notifies the owner
    await say(client, owner, first, "hi")
    await say(client, owner, first, "still there?")  # renter: 2 unread here
    second = await open_chat(client, both, await make_property(owner))  # notifies the owner
    await say(client, owner, second, "yes")  # both, as renter: 1 unread
    third = await open_chat(client, renter, await make_property(both))  # notifies both
    await say(client, renter, third, "and another")  # both, as owner: 2 unread; renter read the chat
    blocked = await open_chat(client, renter, await make_property(owner))  # notifies the owner
    await say(client, owner, blocked, "gone")
    r = await client.post(f"/api/chats/{blocked}/block", headers=bearer(renter["token"]))
    assert r.status_code == 200, r.text  # a blocked chat's unread messages no longer count
    users = [renter, owner, both, quiet]
    before = counter.queries
    counts = await asyncio.gather(*(count(counter, user["user_id"]) for user in users + [renter]))
    assert counter.queries - before <= 2, "the recounts did not share a query"
    assert counts == [(2, 0), (0, 3), (3, 1), (0, 0), (2, 0)]
    # The same totals as REST's two counts.
    for user, (messages, notes) in zip(users, counts, strict=False):
        r = await client.get("/api/chats/unread-count", headers=bearer(user["token"]))
        assert r.status_code == 200 and r.json()["unread_count"] == messages, r.text
        r = await client.get("/api/notifications/unread-count", headers=bearer(user["token"]))
        assert r.status_code == 200 and r.json()["unread_count"] == notes, r.text


async def test_a_recount_asked_for_after_a_change_sees_it(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, counter: BadgeCounter
) -> None:
    owner = await register(user_type="owner")
    renter = await register()
    chat_id = await open_chat(client, renter, await make_property(owner))
    assert await count(counter, renter["user_id"]) == (0, 0)
    await say(client, owner, chat_id, "news")
    assert await count(counter, renter["user_id"]) == (1, 0)


async def test_recounts_asked_soon_after_a_query_wait_for_the_next_one_and_share_it(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    owner = await register(user_type="owner")
    renter, other = await register(), await register()
    chat_id = await open_chat(client, renter, await make_property(owner))  # notifies the owner
    await say(client, owner, chat_id, "news")
    async with short_lived_engine(settings.database_url) as engine:
        badges = BadgeCounter(engine, gather_seconds=0.5)
        badges.start()
        try:
            assert await count(badges, owner["user_id"]) == (0, 1)  # a query now: the next waits 0.5 s
            before = badges.queries
            first = asyncio.create_task(count(badges, renter["user_id"]))
            await asyncio.sleep(0.05)  # long after an ungathered query would have answered `first`
            counts = await asyncio.gather(first, count(badges, other["user_id"]))
            assert counts == [(1, 0), (0, 0)]
            assert badges.queries - before == 1, "the second recount did not join the first's query"
        finally:
            await badges.stop()


@pytest.mark.mysql
async def test_a_recount_asked_while_a_query_runs_waits_for_the_next_one(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, database_proxy: TcpProxy
) -> None:
    """The running query may have read before the commit that the later recount was asked after."""
    owner = await register(user_type="owner")
    renter = await register()
    chat_id = await open_chat(client, renter, await make_property(owner))
    async with short_lived_engine(through(database_proxy)) as engine:
        counter = BadgeCounter(engine)
        counter.start()
        try:
            hold = database_proxy.hold_reply(b"_read_seq")  # the badge statement's answer
            running = asyncio.create_task(count(counter, renter["user_id"]))
            await asyncio.wait_for(hold.seen.wait(), 10)
            await say(client, owner, chat_id, "news")
            asked_after = asyncio.create_task(count(counter, renter["user_id"]))
            await asyncio.sleep(0.1)  # asked while the first query's answer is held
            hold.release()
            assert await asyncio.wait_for(running, 10) == (0, 0)
            assert await asyncio.wait_for(asked_after, 10) == (1, 0)
        finally:
            await counter.stop()


async def test_recounts_of_any_number_of_users_share_a_handful_of_statements(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, counter: BadgeCounter
) -> None:
    """Each size of the statement is compiled once and kept: one per number of users grew a process by 75 MB."""
    owner = await register(user_type="owner")
    await open_chat(client, await register(), await make_property(owner))  # a message and a notification
    strangers = [str(uuid.uuid4()) for _ in range(19)]
    chats._badge_statement.cache_clear()
    for n in range(1, 21):
        counts = await asyncio.gather(*(count(counter, user) for user in [owner["user_id"], *strangers[: n - 1]]))
        assert counts == [(1, 1)] + [(0, 0)] * (n - 1)
    assert chats._badge_statement.cache_info().currsize <= 6  # 1, 2, 4, 8, 16 and 32 users
