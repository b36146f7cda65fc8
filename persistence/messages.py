"""Messages: storing one with its gapless seq, idempotent retries, and reading history.

The seq comes from `chats.last_seq`, incremented by an UPDATE in the same
transaction that inserts the message. The UPDATE takes the chat row's lock
(InnoDB) or the database's write lock (SQLite, `BEGIN IMMEDIATE`), so
concurrent senders to one chat queue there, and a rollback returns the number:
no two messages share a seq and none is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden
from persistence.chats import role, side
from persistence.models import Chat, Message
from persistence.types import quiet_update, written

MAX_MESSAGE_CHARS = 4000


@dataclass(frozen=True)
class Stored:
    message: Message
    chat: Chat
    duplicate: bool  # a retried client_id: nothing new was stored
    read_others: bool = False  # writing moved the sender's read seq past the counterpart's messages


async def find_by_client_id(session: AsyncSession, sender_id: str, client_id: str) -> Message | None:
    return await session.scalar(select(Message).where(Message.sender_id == sender_id, Message.client_id == client_id))


async def store_message(
    session: AsyncSession,
    chat: Chat,
    sender_id: str,
    body: str,
    attachments: list[Any] | None,
    client_id: str | None,
    now: datetime,
) -> Stored:
    """Append a message to a chat the sender takes part in; a known client_id returns the first copy."""
    sender_type = role(chat, sender_id)
    if client_id is not None and (earlier := await find_by_client_id(session, sender_id, client_id)):
        return Stored(earlier, chat, duplicate=True)
    if chat.status == "blocked":
        raise Forbidden("This chat is blocked")
    read_column = side(chat, sender_id, Chat.renter_read_seq, Chat.owner_read_seq)
    read_before = getattr(chat, read_column.key)
    await session.execute(
        quiet_update(Chat)
        .where(Chat.id == chat.id)
        .values(
            last_seq=Chat.last_seq + 1,
            last_message_at=now,
            status=case((Chat.status == "archived", "active"), else_=Chat.status),
        )
    )
    seq = await session.scalar(select(Chat.last_seq).where(Chat.id == chat.id))
    assert seq is not None
    await session.execute(quiet_update(Chat).where(Chat.id == chat.id).values({read_column: seq}))
    message = Message(
        chat_id=chat.id,
        seq=seq,
        sender_id=sender_id,
        sender_type=sender_type,
        body=body,
        attachments=attachments or None,
        client_id=client_id,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    status = "active" if chat.status == "archived" else chat.status
    written(chat, last_seq=seq, last_message_at=now, status=status, **{read_column.key: seq})
    return Stored(message, chat, duplicate=False, read_others=read_before < seq - 1)


def is_client_id_conflict(exc: IntegrityError) -> bool:
    """A concurrent send with the same client_id won the race; the caller re-reads that one."""
    return "uq_messages_sender_client" in str(exc.orig) or "messages.sender_id, messages.client_id" in str(exc.orig)


async def history(
    session: AsyncSession, chat_id: str, *, before_seq: int | None, after_seq: int | None, limit: int
) -> tuple[list[Message], bool]:
    """A page of messages in seq order, and whether more lie beyond it in the paging direction."""
    query = select(Message).where(Message.chat_id == chat_id)
    if after_seq is not None:
        rows = list(await session.scalars(query.where(Message.seq > after_seq).order_by(Message.seq).limit(limit + 1)))
        return rows[:limit], len(rows) > limit
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    rows = list(await session.scalars(query.order_by(Message.seq.desc()).limit(limit + 1)))
    return rows[:limit][::-1], len(rows) > limit


async def last_messages(session: AsyncSession, chats: list[Chat]) -> dict[str, Message]:
    """Each chat's newest message, in one query by (chat_id, seq)."""
    keys = [and_(Message.chat_id == chat.id, Message.seq == chat.last_seq) for chat in chats if chat.last_seq]
    if not keys:
        return {}
    return {message.chat_id: message for message in await session.scalars(select(Message).where(or_(*keys)))}
