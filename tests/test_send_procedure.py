"""`store_send_v2` (schema.sql) against `store_batch`: the same send, the same outcome, the same rows.

On MySQL a lone send is one CALL of the procedure (`sends.store_one`), and
the batch path applies the same rules in Python. Each test sets up two chats
alike, stores the same send in one through each path, and compares what the
caller is told and what the database then holds, ids and client_ids aside.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from persistence import messages
from persistence.engine import HeldConnection, short_lived_engine
from persistence.lean import driver
from persistence.models import Chat, Message
from persistence.sends import Draft, Outcome, store_batch, store_one
from persistence.types import utcnow
from settings import Settings
from tests.conftest import MakeProperty, Register, bearer, open_chat
from tests.live import run_sql

pytestmark = [pytest.mark.mysql, pytest.mark.timeout(60)]

Store = Callable[[Draft], Awaitable[Outcome]]
# What a message row holds that differs between the two chats whatever the path: blanked to compare.
DIFFERING = dict.fromkeys(("id", "chat_id", "client_id", "created_at"), "")


@pytest.fixture
async def held(client: httpx.AsyncClient, settings: Settings) -> AsyncIterator[HeldConnection]:
    async with short_lived_engine(settings.database_url) as engine:
        connection = HeldConnection(engine)
        try:
            yield connection
        finally:
            await connection.close()


@pytest.fixture
def through_procedure(held: HeldConnection) -> Store:
    async def store(draft: Draft) -> Outcome:
        return await store_one(held, draft, utcnow())

    return store


@pytest.fixture
def through_batch(held: HeldConnection) -> Store:
    async def store(draft: Draft) -> Outcome:
        async with held.begin() as conn, driver(conn) as db:
            (outcome,) = await store_batch(db, [draft], utcnow(), look_up_copies=False)
        return outcome

    return store


@pytest.fixture
async def people(client: httpx.AsyncClient, register: Register) -> dict[str, dict[str, Any]]:
    return {"owner": await register(user_type="owner"), "renter": await register(), "stranger": await register()}


async def two_chats(client: httpx.AsyncClient, people: dict[str, Any], make_property: MakeProperty) -> list[str]:
    """Two chats alike: the renter's opening message, then one from the owner the renter has not read."""
    chat_ids = []
    for _ in range(2):
        chat_id = await open_chat(client, people["renter"], await make_property(people["owner"]))
        reply = {"message": "Still available"}
        r = await client.post(f"/api/chats/{chat_id}/messages", json=reply, headers=bearer(people["owner"]["token"]))
        assert r.status_code == 201, r.text
        chat_ids.append(chat_id)
    return chat_ids


def described(outcome: Outcome) -> dict[str, Any]:
    """The outcome without what differs between two chats: ids, client_ids, timestamps."""
    found: dict[str, Any] = {"error": repr(outcome.error), "duplicate": outcome.duplicate}
    found["read_others"] = outcome.read_others
    if outcome.row is not None:
        found["row"] = asdict(outcome.row) | DIFFERING
    if outcome.chat is not None:
        found["chat"] = asdict(outcome.chat) | {"id": "", "last_message_at": ""}
    return found


async def stored(held: HeldConnection, chat_id: str) -> dict[str, Any]:
    """The chat row and its messages, as comparable values."""
    async with held.begin() as conn:
        chat = (await conn.execute(select(Chat.__table__).where(Chat.id == chat_id))).one()._asdict()
        rows = await conn.execute(select(Message.__table__).where(Message.chat_id == chat_id).order_by(Message.seq))
        found = [row._asdict() | DIFFERING for row in rows]
    moved = chat["last_message_at"] > chat["created_at"]
    return chat | {"id": "", "property_id": "", "created_at": "", "last_message_at": moved, "messages": found}


Compare = Callable[[list[str], list[Draft]], Awaitable[Outcome]]


@pytest.fixture
def compare(held: HeldConnection, through_procedure: Store, through_batch: Store) -> Compare:
    async def both(chat_ids: list[str], drafts: list[Draft]) -> Outcome:
        """Store drafts[0] through the procedure and drafts[1] through the batch path; both must agree."""
        by_call, by_batch = await through_procedure(drafts[0]), await through_batch(drafts[1])
        assert described(by_call) == described(by_batch)
        assert await stored(held, chat_ids[0]) == await stored(held, chat_ids[1])
        return by_call

    return both


@pytest.mark.parametrize("sender", ["renter", "owner"])
async def test_a_send_moves_the_chat_on_as_a_batch_does(
    client: httpx.AsyncClient,
    people: dict[str, dict[str, Any]],
    make_property: MakeProperty,
    compare: Compare,
    sender: str,
) -> None:
    chat_ids = await two_chats(client, people, make_property)
    me = people[sender]["user_id"]
    attachments = [{"url": "/uploads/plan.png", "type": "image"}]
    drafts = [Draft(me, chat_id, "Can I visit on Sunday?", attachments, f"visit-{chat_id}") for chat_id in chat_ids]
    outcome = await compare(chat_ids, drafts)
    assert outcome.error is None and outcome.row is not None and outcome.row.seq == 3
    # The renter had not read the owner's reply; writing read it. The owner had read everything.
    assert outcome.read_others == (sender == "renter")


async def test_a_send_to_a_chat_archived_in_the_shared_status_makes_it_active_again(
    client: httpx.AsyncClient,
    people: dict[str, dict[str, Any]],
    make_property: MakeProperty,
    compare: Compare,
    settings: Settings,
) -> None:
    """Rows from before archiving was per participant hold status 'archived'; a message still lifts it."""
    chat_ids = await two_chats(client, people, make_property)
    legacy = update(Chat).where(Chat.id.in_(chat_ids)).values(status="archived")
    await run_sql(settings.database_url, lambda session: session.execute(legacy))
    drafts = [Draft(people["owner"]["user_id"], chat_id, "Any news?", [], None) for chat_id in chat_ids]
    outcome = await compare(chat_ids, drafts)
    assert outcome.chat is not None and outcome.chat.status == "active"


async def test_a_send_is_stamped_no_earlier_than_the_chats_last_message_as_a_batch_stamps_it(
    client: httpx.AsyncClient,
    people: dict[str, dict[str, Any]],
    make_property: MakeProperty,
    held: HeldConnection,
    through_procedure: Store,
    through_batch: Store,
    settings: Settings,
) -> None:
    """The chat's last message came from a host whose clock runs an hour ahead of this one's."""
    chat_ids = await two_chats(client, people, make_property)
    ahead = utcnow() + timedelta(hours=1)
    stamp_ahead = update(Chat).where(Chat.id.in_(chat_ids)).values(last_message_at=ahead)
    await run_sql(settings.database_url, lambda session: session.execute(stamp_ahead))
    drafts = [Draft(people["renter"]["user_id"], chat_id, "Is it furnished?", [], None) for chat_id in chat_ids]
    outcomes = [await through_procedure(drafts[0]), await through_batch(drafts[1])]
    for outcome, chat_id in zip(outcomes, chat_ids, strict=True):
        assert outcome.row is not None and outcome.chat is not None
        assert (outcome.row.created_at, outcome.chat.last_message_at) == (ahead, ahead)
        async with held.begin() as conn:
            chat = await conn.scalar(select(Chat.last_message_at).where(Chat.id == chat_id))
            newest = await conn.scalar(select(Message.created_at).where(Message.chat_id == chat_id, Message.seq == 3))
        assert (chat, newest) == (ahead, ahead)


@pytest.mark.parametrize("case", ["blocked", "stranger", "unknown chat"])
async def test_a_refused_send_stores_nothing_as_a_batch_refuses_it(
    client: httpx.AsyncClient,
    people: dict[str, dict[str, Any]],
    make_property: MakeProperty,
    held: HeldConnection,
    compare: Compare,
    case: str,
) -> None:
    chat_ids = await two_chats(client, people, make_property)
    if case == "blocked":
        for chat_id in chat_ids:
            r = await client.post(f"/api/chats/{chat_id}/block", headers=bearer(people["owner"]["token"]))
            assert r.status_code == 200, r.text
    who = people["stranger" if case == "stranger" else "renter"]["user_id"]
    targets = ["no-such-chat"] * 2 if case == "unknown chat" else chat_ids
    drafts = [Draft(who, target, "Hello?", [], None) for target in targets]
    before = [await stored(held, chat_id) for chat_id in chat_ids]
    outcome = await compare(chat_ids, drafts)
    assert outcome.error is not None and outcome.row is None
    assert [await stored(held, chat_id) for chat_id in chat_ids] == before


async def test_a_stored_client_id_fails_the_call_on_its_unique_key_and_stores_nothing(
    client: httpx.AsyncClient,
    people: dict[str, dict[str, Any]],
    make_property: MakeProperty,
    held: HeldConnection,
    through_procedure: Store,
) -> None:
    chat_id = (await two_chats(client, people, make_property))[0]
    draft = Draft(people["renter"]["user_id"], chat_id, "Hi again", [], "once")
    first = await through_procedure(draft)
    assert first.row is not None
    before = await stored(held, chat_id)
    with pytest.raises(IntegrityError) as refused:  # the client's retry: the same client_id, a new draft
        await through_procedure(Draft(draft.sender_id, chat_id, "Hi again", [], "once"))
    assert messages.is_client_id_conflict(refused.value)
    assert await stored(held, chat_id) == before
