"""Chat rules: who may open a chat, the free tier's contact limit, read state, archive and block.

Read state is a seq per participant on the chat row; a participant's unread
count in a chat is `last_seq - <their>_read_seq`, and a sender's read seq moves
to their own message (whoever writes has seen the chat).

Archiving is per participant too: `<their>_archived_seq` holds the chat's
`last_seq` when they archived it, and the chat is archived for them while the
two are equal, so the next message brings it back to both lists. A block is
shared: `status` says 'blocked' for both. Rows from before per-participant
archiving may still hold status 'archived', which counts as archived by both
until a message turns it back to 'active'.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, bindparam, case, func, literal, literal_column, or_, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden, NotFound
from persistence.lean import Lean, Runner
from persistence.models import Chat, Contact, Property, User, chats_table, notifications_table
from persistence.types import is_issued_id, quiet_update, written
from persistence.users import effective_tier

FREE_CONTACT_LIMIT = 5
CONTACT_LIMIT_REACHED = "Contact limit reached. Upgrade to premium."
READABLE_STATUSES = ("active", "archived")
T = TypeVar("T")


@dataclass(frozen=True)
class Opened:
    chat: Chat
    created: bool


def role(chat: Chat, user_id: str) -> str:
    if user_id == chat.renter_id:
        return "renter"
    if user_id == chat.owner_id:
        return "owner"
    raise Forbidden("Not a participant of this chat")


def side(chat: Chat, user_id: str, as_renter: T, as_owner: T) -> T:
    """`as_renter` if the user is the chat's renter, else `as_owner` (403 for anyone else); `by_role` in SQL."""
    return as_renter if role(chat, user_id) == "renter" else as_owner


def counterpart_id(chat: Chat, user_id: str) -> str:
    return side(chat, user_id, chat.owner_id, chat.renter_id)


def read_seq(chat: Chat, user_id: str) -> int:
    return side(chat, user_id, chat.renter_read_seq, chat.owner_read_seq)


def unread_in(chat: Chat, user_id: str) -> int:
    return max(0, chat.last_seq - read_seq(chat, user_id))


def archived_by(chat: Chat, user_id: str) -> bool:
    mine = side(chat, user_id, chat.renter_archived_seq, chat.owner_archived_seq)
    return chat.status == "archived" or mine == chat.last_seq


def status_for(chat: Chat, user_id: str) -> str:
    """The chat's status as this participant sees it: a block is shared, an archive is theirs alone."""
    if chat.status == "blocked":
        return "blocked"
    return "archived" if archived_by(chat, user_id) else "active"


async def chat_for_member(session: AsyncSession, chat_id: str, user_id: str, *, lock: bool = False) -> Chat:
    """The chat, if `user_id` takes part in it: 404 when unknown, 403 for anyone else."""
    if not is_issued_id(chat_id):
        raise NotFound("Chat not found")
    query = select(Chat).where(Chat.id == chat_id)
    chat = await session.scalar(query.with_for_update() if lock else query)
    if chat is None:
        raise NotFound("Chat not found")
    role(chat, user_id)
    return chat


async def open_as_renter(session: AsyncSession, renter: User, property_id: str, now: datetime) -> Opened:
    """The renter's chat about a property, created if new, under the free tier's limit.

    The renter's row is locked first, so concurrent openings by one renter
    queue, and the lookup and the limit check see every chat and contact the
    others made.
    """
    if renter.user_type not in ("renter", "both"):
        raise Forbidden("Only renters can start a chat about a property")
    if not is_issued_id(property_id):  # a variant would find the property, or this pair's chat, on MariaDB
        raise NotFound("Property not found")
    locked = await session.scalar(select(User).where(User.id == renter.id).with_for_update())
    assert locked is not None
    # The same chat again, whatever became of the listing since (rented, paused): only a new chat needs it active.
    if (existing := await find_chat(session, property_id, renter.id)) is not None:
        return Opened(existing, created=False)
    prop = await active_property(session, property_id)
    if prop.owner_id == renter.id:
        raise Forbidden("You cannot start a chat about your own property")
    return await insert_chat(session, prop, renter.id, "renter", now, contact_of=locked)


async def open_as_owner(session: AsyncSession, owner: User, renter_id: str, property_id: str, now: datetime) -> Opened:
    """An owner reaching out to a visible renter about one of the owner's active properties."""
    if owner.user_type not in ("owner", "both"):
        raise Forbidden("Only owners can contact renters")
    # On MariaDB `ABC…` finds the renter `abc…`, and a chat stored under the variant would shut the renter
    # out of it: only the ids as issued are looked up.
    if not is_issued_id(renter_id):
        raise NotFound("Renter not found")
    if not is_issued_id(property_id):
        raise NotFound("Property not found")
    # An existing chat of theirs comes back even if the listing is no longer active or the renter now hides.
    # Any other chat of the pair is about someone else's property, which the checks below refuse.
    existing = await find_chat(session, property_id, renter_id)
    if existing is not None and existing.owner_id == owner.id:
        return Opened(existing, created=False)
    prop = await active_property(session, property_id)
    if prop.owner_id != owner.id:
        raise Forbidden("You can only contact renters about your own properties")
    # Before the renter checks: an owner, or a `both` user who hides, is not "not found" to themself.
    if renter_id == owner.id:
        raise Forbidden("You cannot start a chat with yourself")
    renter = await session.get(User, renter_id)
    if renter is None or not renter.is_active or not renter.profile_visibility or renter.user_type == "owner":
        raise NotFound("Renter not found")
    # Queue behind a renter's own opening, which holds the renter's row while it locks the property to
    # count the contact: this INSERT's foreign key checks lock the property, then the renter, and without
    # this share lock taken first the two deadlocked.
    await session.execute(select(User.id).where(User.id == renter.id).with_for_update(read=True))
    return await insert_chat(session, prop, renter.id, "owner", now)


async def active_property(session: AsyncSession, property_id: str) -> Property:
    prop = await session.get(Property, property_id)
    if prop is None or prop.status != "active":
        raise NotFound("Property not found")
    return prop


async def find_chat(session: AsyncSession, property_id: str, renter_id: str, *, latest: bool = False) -> Chat | None:
    """`latest`: a locking read, which sees rows committed after this transaction's snapshot (InnoDB)."""
    query = select(Chat).where(Chat.property_id == property_id, Chat.renter_id == renter_id)
    return await session.scalar(query.with_for_update(read=True) if latest else query)


async def count_contact(session: AsyncSession, renter: User, prop: Property, now: datetime) -> None:
    """Record a first contact with the property, refusing a free renter's sixth."""
    if await session.get(Contact, (renter.id, prop.id)) is not None:
        return
    if effective_tier(renter, now) == "free" and renter.contacts_used >= FREE_CONTACT_LIMIT:
        raise Forbidden(CONTACT_LIMIT_REACHED)
    session.add(Contact(user_id=renter.id, property_id=prop.id, created_at=now))
    await session.execute(quiet_update(User).where(User.id == renter.id).values(contacts_used=User.contacts_used + 1))
    await session.execute(
        quiet_update(Property).where(Property.id == prop.id).values(total_contacts=Property.total_contacts + 1)
    )


async def insert_chat(
    session: AsyncSession,
    prop: Property,
    renter_id: str,
    initiated_by: str,
    now: datetime,
    *,
    contact_of: User | None = None,
) -> Opened:
    """A new chat, or the one that a concurrent opening of the same pair inserted first (`created=False`).

    Owners' openings of a pair do not queue behind each other, and one that queued behind the renter's
    may not see the chat in its snapshot, so two INSERTs can race: the loser's hits the unique key inside
    a savepoint, only the savepoint rolls back, and the winner's chat is read instead. `contact_of` (a
    renter opening the chat) counts the contact in the same savepoint: only the creator counts it.
    """
    chat = Chat(
        property_id=prop.id,
        renter_id=renter_id,
        owner_id=prop.owner_id,
        initiated_by=initiated_by,
        created_at=now,
        last_message_at=now,
    )
    try:
        async with session.begin_nested():
            if contact_of is not None:
                await count_contact(session, contact_of, prop, now)
            session.add(chat)
            await session.flush()
    except IntegrityError:
        existing = await find_chat(session, prop.id, renter_id, latest=True)
        if existing is None:
            raise
        return Opened(existing, created=False)
    return Opened(chat, created=True)


async def set_status(session: AsyncSession, chat: Chat, status: str) -> Chat:
    await _update(session, chat, {Chat.status: status})
    return chat


async def archive(session: AsyncSession, chat: Chat, user_id: str) -> None:
    """Archive the chat for this participant alone, as of its current last seq (the caller holds the row lock)."""
    mine = side(chat, user_id, Chat.renter_archived_seq, Chat.owner_archived_seq)
    await _update(session, chat, {mine: chat.last_seq})


async def unarchive(session: AsyncSession, chat: Chat, user_id: str) -> None:
    """Bring an archived chat back to this participant's list; the other side's archive stays as it was.

    A chat archived by older data (status 'archived', for both) becomes active with the other side's
    archive now in its own column.
    """
    await session.refresh(chat, with_for_update=True)  # what to write depends on the row as it is now
    if chat.status == "blocked" or not archived_by(chat, user_id):
        return
    mine = side(chat, user_id, Chat.renter_archived_seq, Chat.owner_archived_seq)
    theirs = side(chat, user_id, Chat.owner_archived_seq, Chat.renter_archived_seq)
    values: dict[Any, Any] = {mine: None}
    if chat.status == "archived":
        values.update({Chat.status: "active", theirs: chat.last_seq})
    await _update(session, chat, values)


async def mark_read(session: AsyncSession, chat: Chat, user_id: str, up_to_seq: int | None) -> int | None:
    """Move the reader's read seq forward (never back); returns the new value, or None if unchanged.

    The caller holds the row lock: two reads at once, from two tabs, would each answer from what they
    read before the other committed.
    """
    column = side(chat, user_id, Chat.renter_read_seq, Chat.owner_read_seq)
    target = chat.last_seq if up_to_seq is None else min(up_to_seq, chat.last_seq)
    if target <= read_seq(chat, user_id):
        return None
    await _update(session, chat, {column: case((column < target, target), else_=column)}, **{column.key: target})
    return target


async def _update(session: AsyncSession, chat: Chat, values: dict[Any, Any], **shown: Any) -> None:
    """UPDATE the chat's row with `values` and show them on `chat` without marking it changed (`written`).

    `shown` gives what `chat` shows for a value written as an SQL expression.
    """
    await session.execute(quiet_update(Chat).where(Chat.id == chat.id).values(values))
    written(chat, **({column.key: value for column, value in values.items()} | shown))


def by_role(user_id: str, as_renter: Any, as_owner: Any) -> ColumnElement[Any]:
    """In SQL, per chat row: `as_renter` where the user is its renter, else `as_owner`."""
    return case((Chat.renter_id == user_id, as_renter), else_=as_owner)


def counterpart_column(user_id: str) -> ColumnElement[str]:
    return by_role(user_id, Chat.owner_id, Chat.renter_id)


def unread_expression(user_id: str) -> ColumnElement[int]:
    return by_role(user_id, Chat.last_seq - Chat.renter_read_seq, Chat.last_seq - Chat.owner_read_seq)


def member_of(user_id: str) -> ColumnElement[bool]:
    return or_(Chat.renter_id == user_id, Chat.owner_id == user_id)


def not_archived_by(user_id: str) -> ColumnElement[bool]:
    mine = by_role(user_id, Chat.renter_archived_seq, Chat.owner_archived_seq)
    return or_(mine.is_(None), mine != Chat.last_seq)


async def unread_total(session: AsyncSession, user_id: str) -> int:
    """Messages to the user not yet read, over all their chats: arithmetic on chat rows, no message scan."""
    total = await session.scalar(
        select(func.coalesce(func.sum(unread_expression(user_id)), 0)).where(
            member_of(user_id), Chat.status.in_(READABLE_STATUSES)
        )
    )
    return int(total or 0)


@dataclass(frozen=True)
class Listed:
    chat: Chat
    property_title: str
    counterpart_name: str


async def list_for_user(session: AsyncSession, user_id: str, *, offset: int, limit: int) -> tuple[list[Listed], int]:
    """The user's active chats (neither blocked nor archived by them), newest activity first, with what a list shows."""
    where = (member_of(user_id), Chat.status == "active", not_archived_by(user_id))
    total = await session.scalar(select(func.count()).select_from(Chat).where(*where))
    rows = await session.execute(
        select(Chat, Property.title, User.full_name)
        .join(Property, Property.id == Chat.property_id)
        .join(User, User.id == counterpart_column(user_id))
        .where(*where)
        .order_by(Chat.last_message_at.desc(), Chat.id)
        .offset(offset)
        .limit(limit)
    )
    return [Listed(chat, title, name) for chat, title, name in rows], int(total or 0)


async def describe(session: AsyncSession, chat: Chat, user_id: str) -> Listed:
    title = await session.scalar(select(Property.title).where(Property.id == chat.property_id))
    name = await session.scalar(select(User.full_name).where(User.id == counterpart_id(chat, user_id)))
    return Listed(chat, title or "", name or "")


async def chat_states(session: AsyncSession, user_id: str) -> list[tuple[str, int, int]]:
    """(chat_id, last_seq, unread) for every chat the user can read: what `hello` reports."""
    rows = await session.execute(
        select(Chat.id, Chat.last_seq, unread_expression(user_id)).where(
            member_of(user_id), Chat.status.in_(READABLE_STATUSES)
        )
    )
    return [(chat_id, last_seq, max(0, unread)) for chat_id, last_seq, unread in rows]


async def resync_states(session: AsyncSession, user_id: str) -> list[tuple[str, int, str, int]]:
    """(chat_id, last_seq, counterpart_id, their read seq) for every chat the user can read: what a resync needs."""
    their_read = by_role(user_id, Chat.owner_read_seq, Chat.renter_read_seq)
    query = select(Chat.id, Chat.last_seq, counterpart_column(user_id), their_read).where(
        member_of(user_id), Chat.status.in_(READABLE_STATUSES)
    )
    return [(chat_id, last_seq, other, read) for chat_id, last_seq, other, read in await session.execute(query)]


async def statuses(session: AsyncSession, user_id: str, chat_ids: list[str]) -> dict[str, tuple[str, int]]:
    """(status, last_seq) of each of these chats that the user takes part in; the others are left out."""
    query = select(Chat.id, Chat.status, Chat.last_seq).where(Chat.id.in_(chat_ids), member_of(user_id))
    return {chat_id: (status, last_seq) for chat_id, status, last_seq in await session.execute(query)}


async def counterpart_ids(session: AsyncSession, user_id: str) -> list[str]:
    """Everyone the user shares a chat with that is not blocked: who hears about the user's presence."""
    query = select(counterpart_column(user_id)).where(member_of(user_id), Chat.status.in_(READABLE_STATUSES)).distinct()
    return list(await session.scalars(query))


def _users_padded(user_ids: list[str]) -> dict[str, str]:
    """The bind values of a per-user statement, padded to the next power of two by repeating the first user
    (a repeat in an IN list matches nothing more).

    Each size is a statement of its own, compiled once and kept for good: one per number of users grew a
    process by up to 75 MB (every size from 1 to 500 of the badge statement, on MySQL); the ten powers of
    two to 512 take 0.8 MB.
    """
    size = 1 << (len(user_ids) - 1).bit_length()
    padded = user_ids + user_ids[:1] * (size - len(user_ids))
    return {f"user_{k}": user_id for k, user_id in enumerate(padded)}


@functools.cache  # one statement per power of two up to badges.MAX_USERS (`_users_padded`)
def _badge_statement(size: int) -> Lean:
    """Both counts in one round trip, built once per size and run on the driver's cursor (persistence/lean.py)."""
    c, n = chats_table.c, notifications_table.c
    users: list[Any] = [bindparam(f"user_{k}") for k in range(size)]
    readable = c.status.in_([literal(status) for status in READABLE_STATUSES])
    none: Any = literal_column("0")
    as_renter = select(c.renter_id.label("user_id"), (c.last_seq - c.renter_read_seq).label("unread"), none.label("n"))
    as_owner = select(c.owner_id, c.last_seq - c.owner_read_seq, none)
    notes = select(n.user_id, none, func.count()).where(n.user_id.in_(users), ~n.is_read).group_by(n.user_id)
    parts = union_all(
        as_renter.where(c.renter_id.in_(users), readable), as_owner.where(c.owner_id.in_(users), readable), notes
    ).subquery()
    return Lean(select(parts.c.user_id, func.sum(parts.c.unread), func.sum(parts.c.n)).group_by(parts.c.user_id))


async def badge_counts_many(db: Runner, user_ids: list[str]) -> dict[str, tuple[int, int]]:
    """(unread messages, unread notifications) of each user, in one statement: what every `badge` recounts.

    Core on the driver's cursor, no ORM: the badge counter (realtime/badges.py) runs it for every
    socket due at the time. The same sums as `unread_expression` over `member_of`: a chat counts for
    its renter with the renter's read seq and for its owner with the owner's.
    """
    params = _users_padded(user_ids)
    rows = await db.rows(_badge_statement(len(params)), params)
    counts = {user_id: (int(unread or 0), int(notes or 0)) for user_id, unread, notes in rows}
    return {user_id: counts.get(user_id, (0, 0)) for user_id in user_ids}
