"""Storing a batch of sends in one transaction, with lean Core statements.

The send path's storage (`realtime/sending.py` groups concurrent sends). For
a batch, whatever its size, the transaction is:

1. the batch's chats, locked (`SELECT ... ORDER BY id FOR UPDATE`): every
   process locks chat rows in the same order, so two batches wait for each
   other instead of deadlocking. On SQLite the transaction's `BEGIN IMMEDIATE`
   already holds the database's write lock;
2. with `look_up_copies`, the client_ids already stored (one SELECT), so a
   retry returns the first copy. It runs after the locks are granted (InnoDB
   takes its read view at the first plain read), so it sees a copy sent to
   the same chat by a batch that held those locks before. The caller first
   stores a batch without it: a retried client_id is rare, and the unique key
   refuses its INSERT, after which the caller rolls back and stores the batch
   again with the lookup (one round trip fewer for every other batch);
3. in Python, each send in arrival order, exactly as one-by-one storing would
   have done it: membership (404 unknown chat, 403 not a participant), a known
   client_id returns the first copy (also a repeat within the batch), or is
   refused (409) when that copy is in another chat, a blocked chat is refused
   (403), otherwise the chat's next seq, stamped no earlier than the chat's
   last message (a clock behind another host's, or `now` taken before the
   lock wait, would otherwise stamp messages out of seq order);
4. one UPDATE of every chat that got messages (last_seq, read seqs,
   last_message_at, archived back to active) and one multi-row INSERT.

On MySQL a batch of one is stored by `store_one` instead: one CALL of the
`store_send_v2` procedure (schema.sql) does steps 1, 3 and 4 and commits,
one round trip where the statements above take four. It answers with the
chat as it was, and `_place` builds the outcome from that, as for a batch.

Seqs stay gapless: they are allocated under the row lock and committed with
the rows, and a rollback returns them all. A send refused in step 3 does not
affect the others; a batch that fails as a whole (a client_id racing another
process's copy, a deadlock, a bad row) is rolled back by the caller, which
then stores its sends one at a time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, case, column, insert, or_, select, text, tuple_, update

from errors import ApiError, Conflict, Forbidden, NotFound
from persistence.engine import HeldConnection
from persistence.lean import Lean, Runner
from persistence.models import chats_table, messages_table
from persistence.types import is_issued_id, time_ordered_id


@dataclass(frozen=True)
class Draft:
    """One send as it arrives, from a socket or from REST.

    Its message id is chosen once, so that storing it again after a lost answer finds the first
    copy by that id (`store_batch` with `look_up_copies`), also when it has no client_id.
    """

    sender_id: str
    chat_id: str
    body: str
    attachments: list[Any]
    client_id: str | None
    message_id: str = field(default_factory=time_ordered_id)


@dataclass(frozen=True)
class ChatState:
    id: str
    renter_id: str
    owner_id: str
    status: str
    last_seq: int
    renter_read_seq: int
    owner_read_seq: int
    last_message_at: datetime

    def role(self, user_id: str) -> str | None:
        return "renter" if user_id == self.renter_id else "owner" if user_id == self.owner_id else None

    def read_seq(self, role: str) -> int:
        return self.renter_read_seq if role == "renter" else self.owner_read_seq


@dataclass(frozen=True)
class Row:
    """A stored message, as the events and the ack describe it."""

    id: str
    chat_id: str
    seq: int
    sender_id: str
    sender_type: str
    body: str
    attachments: list[Any] | None
    client_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    """What became of one draft: a stored (or earlier) row, or the refusal."""

    row: Row | None = None
    chat: ChatState | None = None  # the chat as this send left it
    duplicate: bool = False  # a known client_id: nothing new was stored
    read_others: bool = False  # writing moved the sender's read seq past the counterpart's messages
    error: ApiError | None = None
    blocked: bool = False  # refused because the chat is blocked, its client_id not looked up


@dataclass
class _Plan:
    chats: dict[str, ChatState]
    earlier: dict[tuple[str, str | None], Row]  # (sender_id, client_id) -> its stored copy
    now: datetime
    stored: dict[str, Row] = field(default_factory=dict)  # a draft's own message id -> that draft, stored before
    rows: list[Row] = field(default_factory=list)


async def store_batch(db: Runner, drafts: list[Draft], now: datetime, *, look_up_copies: bool) -> list[Outcome]:
    """Store the drafts in the caller's transaction; one Outcome per draft, in order. Commit is the caller's.

    `db` is a `lean.driver` on the transaction's connection. Without `look_up_copies`, a client_id
    stored before fails the batch with the unique key's IntegrityError (`messages.is_client_id_conflict`).
    """
    locked = await _lock_chats(db, sorted({d.chat_id for d in drafts}))
    earlier, stored = await _earlier(db, drafts) if look_up_copies else ({}, {})
    plan = _Plan(locked, earlier, now, stored=stored)
    outcomes = [_place(plan, draft) for draft in drafts]
    if plan.rows:
        changed = [plan.chats[chat_id] for chat_id in sorted({row.chat_id for row in plan.rows})]
        await _update_chats(db, changed)
        await db.run_many(_INSERT, [_insert_values(row) for row in plan.rows])
    return outcomes


async def store_one(held: HeldConnection, draft: Draft, now: datetime) -> Outcome:
    """MySQL: store one draft in one round trip on `held`, outside any transaction; the procedure commits.

    `store_send_v2` (schema.sql) locks the chat, applies the same rules as
    `store_batch` and commits, which the four statements of a batch of one
    take four round trips for. It answers with the chat as it was before, from
    which `_place` builds the outcome as `store_batch` would. Like a batch
    stored without `look_up_copies`, a client_id stored before fails it with
    the unique key's IntegrityError.
    """
    if not is_issued_id(draft.chat_id):  # the procedure's lookup would match it whatever its case
        return Outcome(error=NotFound("Chat not found"))
    params = {
        "id": draft.message_id,
        "chat_id": draft.chat_id,
        "sender_id": draft.sender_id,
        "body": draft.body,
        "attachments": draft.attachments or None,
        "client_id": draft.client_id,
        "created_at": now,
    }
    # SQLAlchemy's transaction would only add a COMMIT round trip to the procedure's own.
    async with held.lean(transaction=False) as db:
        ((stored, *before),) = await db.call(_STORE_ONE, params)
    found = {draft.chat_id: ChatState(draft.chat_id, *before)} if before[0] is not None else {}
    outcome = _place(_Plan(found, {}, now), draft)
    if bool(stored) != (outcome.error is None):
        raise RuntimeError(f"store_send_v2 and store_batch disagree on a send to chat {draft.chat_id}")
    return outcome


def _place(plan: _Plan, draft: Draft) -> Outcome:
    chat = plan.chats.get(draft.chat_id)
    if chat is None:
        return Outcome(error=NotFound("Chat not found"))
    role = chat.role(draft.sender_id)
    if role is None:
        return Outcome(error=Forbidden("Not a participant of this chat"))
    if (stored := plan.stored.get(draft.message_id)) is not None:  # this very draft, committed before
        return Outcome(row=stored, chat=chat, duplicate=True)
    key = (draft.sender_id, draft.client_id) if draft.client_id is not None else None
    if key is not None and key in plan.earlier:
        earlier = plan.earlier[key]
        if earlier.chat_id != chat.id:  # the key is per sender, not per chat: this is no retry of that copy
            return Outcome(error=client_id_taken(draft.client_id))
        return Outcome(row=earlier, chat=chat, duplicate=True)
    if chat.status == "blocked":
        return Outcome(error=Forbidden("This chat is blocked"), blocked=True)
    seq = chat.last_seq + 1
    read_before = chat.read_seq(role)
    status = "active" if chat.status == "archived" else chat.status
    # Never before the chat's last message: a process whose clock is behind, or that took `now` before
    # waiting for the lock, would stamp messages out of seq order and move last_message_at back.
    at = max(plan.now, chat.last_message_at)
    if role == "renter":
        chat = replace(chat, status=status, last_seq=seq, renter_read_seq=seq, last_message_at=at)
    else:
        chat = replace(chat, status=status, last_seq=seq, owner_read_seq=seq, last_message_at=at)
    plan.chats[chat.id] = chat
    attachments = draft.attachments or None
    row = Row(draft.message_id, chat.id, seq, draft.sender_id, role, draft.body, attachments, draft.client_id, at)
    plan.rows.append(row)
    if key is not None:
        plan.earlier[key] = row
    return Outcome(row=row, chat=chat, read_others=read_before < seq - 1)


def client_id_taken(client_id: str | None) -> Conflict:
    """The refusal of a client_id that the sender already used in another chat (it is unique per sender)."""
    return Conflict(f'client_id "{client_id}" was already used for a message in another chat')


# The batch's statements are built once per size and run on the driver's cursor (persistence/lean.py):
# building, compiling and executing them through SQLAlchemy per batch was most of a send's CPU.
_c, _m = chats_table.c, messages_table.c
_PER_CHAT = ("last_seq", "renter_read_seq", "owner_read_seq", "last_message_at")
_CHAT_STATE = tuple(f.name for f in fields(ChatState))  # what the lock and the procedure read of a chat
_ROW_COLUMNS = ("id", "chat_id", "seq", "sender_id", "sender_type", "body", "attachments", "client_id", "created_at")
_INSERT = Lean(insert(messages_table).values({name: bindparam(name, type_=_m[name].type) for name in _ROW_COLUMNS}))
_STORE_ONE = Lean(
    text("CALL store_send_v2(:id, :chat_id, :sender_id, :body, :attachments, :client_id, :created_at)")
    .bindparams(*(bindparam(name, type_=_m[name].type) for name in ("attachments", "created_at")))
    .columns(
        column("stored", Integer),
        *(column(name, _c[name].type) for name in _CHAT_STATE[1:]),  # the chat as it was; its id is known
    )
)


@functools.cache  # one statement per number of chats, at most MAX_BATCH of them
def _lock_statement(size: int) -> Lean:
    ids: list[Any] = [bindparam(f"id_{k}") for k in range(size)]
    return Lean(select(*(_c[name] for name in _CHAT_STATE)).where(_c.id.in_(ids)).order_by(_c.id).with_for_update())


@functools.cache  # one statement per batch size, at most MAX_BATCH of them
def _earlier_statement(size: int) -> Lean:
    """Each draft's copy by its message id, or by its (sender_id, client_id): NULL for none matches nothing."""
    ids: list[Any] = [bindparam(f"id_{k}") for k in range(size)]
    keys = [tuple_(bindparam(f"sender_{k}"), bindparam(f"client_{k}")) for k in range(size)]
    by_either = or_(_m.id.in_(ids), tuple_(_m.sender_id, _m.client_id).in_(keys))
    return Lean(select(*(_m[name] for name in _ROW_COLUMNS)).where(by_either))


async def _lock_chats(db: Runner, chat_ids: list[str]) -> dict[str, ChatState]:
    rows = await db.rows(_lock_statement(len(chat_ids)), {f"id_{k}": chat_id for k, chat_id in enumerate(chat_ids)})
    return {row[0]: ChatState(*row) for row in rows}


async def _earlier(db: Runner, drafts: list[Draft]) -> tuple[dict[tuple[str, str | None], Row], dict[str, Row]]:
    """The copies stored before, by (sender_id, client_id) and by the drafts' own message ids."""
    params: dict[str, Any] = {}
    for k, draft in enumerate(drafts):
        params |= {f"id_{k}": draft.message_id, f"sender_{k}": draft.sender_id, f"client_{k}": draft.client_id}
    found = [Row(*values) for values in await db.rows(_earlier_statement(len(drafts)), params)]
    by_client_id: dict[tuple[str, str | None], Row] = {
        (r.sender_id, r.client_id): r for r in found if r.client_id is not None
    }
    return by_client_id, {row.id: row for row in found}


async def _update_chats(db: Runner, chats: list[ChatState]) -> None:
    """One UPDATE for every chat of the batch: the new values are known, the rows are locked."""
    params: dict[str, Any] = {}
    for k, chat in enumerate(chats):
        params[f"id_{k}"] = chat.id
        params.update({f"{name}_{k}": getattr(chat, name) for name in _PER_CHAT})
    await db.run(_chat_update(len(chats)), params)


@functools.cache  # one statement per batch size, at most MAX_BATCH of them
def _chat_update(size: int) -> Lean:
    def per_chat(name: str) -> Any:
        column = _c[name]
        whens = [(_c.id == bindparam(f"id_{k}"), bindparam(f"{name}_{k}", type_=column.type)) for k in range(size)]
        return case(*whens, else_=column)

    # On a small table MariaDB plans this as a scan of the whole primary key, which locks every row
    # it passes, not only the batch's: two processes' batches then deadlocked on chats neither sent to,
    # and both were redone one send at a time. The hint keeps it to the batch's rows, already locked.
    return Lean(
        update(chats_table)
        .with_hint("FORCE INDEX (PRIMARY)", dialect_name="mysql")
        .where(_c.id.in_([bindparam(f"id_{k}") for k in range(size)]))
        .values(
            {name: per_chat(name) for name in _PER_CHAT}
            | {"status": case((_c.status == "archived", "active"), else_=_c.status)}
        )
    )


def _insert_values(row: Row) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _ROW_COLUMNS}
