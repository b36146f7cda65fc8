"""The process's send batcher: concurrent sends share one transaction and one commit.

Every send, from a socket or from REST (`actions.send_message`), is queued
here and awaited. One task stores what has queued up as one batch
(`persistence/sends.py`) while the next batch gathers: a lone send is stored
at once, and under load a batch grows to whatever arrived during the previous
commit, so the commit and the Python work of a transaction are shared by all
its sends instead of paid by each.

Each send keeps its own outcome: a refused send (unknown chat, not a
participant, blocked) gets its own error and the others are stored. A batch
is first stored without looking its client_ids up; when one was stored
before (a retry, or its own copy racing in another process) the unique key
refuses the INSERT, and the batch is rolled back and stored again with the
lookup, which acks that send as its first copy (or refuses it, 409, when
that copy is in another chat). On MySQL a batch of one is
a single stored-procedure call with its own commit (`sends.store_one`).
When a batch fails as a whole for any other reason it is rolled back and its
sends are stored one by one, so one bad send fails alone. Batches run on one
held connection (`HeldConnection`); a batch that finds it dropped by the
server, even a batch of one, is stored again on a fresh one, each send
looking for a copy of itself first (by client_id or by its message id,
chosen once): the commit may have happened with only its answer lost. A
connection that goes silent is found dropped after the engine's read
timeout (persistence/engine.py); when the fresh one fails too, the batch's
remaining sends fail at once (`unavailable` on a socket), and their clients
retry with the same client_id. A send's caller hears back, and its events
are published, only after its transaction committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from http_api.schemas.chats import MessageOut
from persistence import messages
from persistence.engine import HeldConnection, Unreachable, connection_lost
from persistence.models import Chat
from persistence.sends import ChatState, Draft, Outcome, store_batch, store_one
from persistence.types import utcnow
from realtime.fanout import Fanout
from realtime.outbox import Outbox, publish

log = logging.getLogger(__name__)

# Sends per transaction. Past a few hundred the statements grow and a failed batch costs more to redo
# one by one, with nothing left to gain: the commit is already shared.
MAX_BATCH = 200
STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Sent:
    message: MessageOut
    duplicate: bool
    # The message as JSON, serialized once for the event and the ack: every send pays for it.
    data: dict[str, Any]


class Sender:
    """`send` stores one message through the current batch; `start`/`stop` run the batching task."""

    def __init__(self, engine: AsyncEngine, fanout: Fanout) -> None:
        self._connection = HeldConnection(engine)
        self._one_call = engine.dialect.name == "mysql"  # a lone send is one CALL (sends.store_one)
        self._fanout = fanout
        self._waiting: list[tuple[Draft, asyncio.Future[Sent]]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing waits and no batch is being stored
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # committed batches, for tests and logs

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="send batcher")

    async def stop(self) -> None:
        """Store what is waiting and the batch being stored (for at most STOP_SECONDS), then stop.

        Sends still waiting then fail.
        """
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), STOP_SECONDS)
        self._task.cancel()
        await asyncio.wait([self._task])
        self._task = None
        await self._connection.close(discard=True)  # a stopping process gives nothing back to the pool
        for _, future in self._waiting:
            if not future.done():
                future.set_exception(ConnectionError("the server is shutting down"))
        self._waiting.clear()

    async def send(self, draft: Draft) -> Sent:
        """Store `draft` (or find its first copy); raises the send's ApiError, or a storage error."""
        if self._task is None:
            raise ConnectionError("sending has not started")
        future: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        future.add_done_callback(retrieved)
        self._waiting.append((draft, future))
        self._idle.clear()
        self._wake.set()
        # A caller that goes away (a closing socket) does not take its send out of the batch: it is stored.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            if not self._waiting:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await self._store(batch)
            except Exception as exc:  # a bug here must fail these sends, not every later one
                log.exception("storing a batch of sends failed")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)

    async def _store(self, batch: list[tuple[Draft, asyncio.Future[Sent]]]) -> None:
        drafts = [draft for draft, _ in batch]
        try:
            outcomes = await self._commit_finding_copies(drafts)
        except Exception as exc:  # not only storage errors: one send the driver cannot take fails the batch
            # A lone send is tried again only on a fresh connection: the held one was found dropped.
            # Then the commit may have happened with only its answer lost, so each send looks for its copy.
            dropped = getattr(exc, "connection_invalidated", False)
            if (len(batch) > 1 or dropped) and not isinstance(exc, Unreachable):
                log.warning("a batch of %d sends failed (%s); storing them one by one", len(batch), type(exc).__name__)
                await self._store_each(batch, look_up_first=dropped)
                return
            for _, future in batch:  # one send, or no connection to be had: nothing to try apart
                future.set_exception(exc)
            return
        await self._settle(batch, outcomes)

    async def _store_each(self, batch: list[tuple[Draft, asyncio.Future[Sent]]], *, look_up_first: bool) -> None:
        """Store the sends one by one, so that one bad send fails alone.

        Once one fails for want of a connection the database is not answering, and the rest fail with it
        at once: each would otherwise wait out its own timeout, a batch of hundreds for hours.
        """
        for n, (draft, future) in enumerate(batch):
            try:
                outcomes = await self._commit_finding_copies([draft], look_up_first=look_up_first)
            except Exception as exc:  # this send's own failure; the batch's other sends go on
                future.set_exception(exc)
                if connection_lost(exc):
                    for _, rest in batch[n + 1 :]:
                        rest.set_exception(exc)
                    return
                continue
            await self._settle([(draft, future)], outcomes)

    async def _commit_finding_copies(self, drafts: list[Draft], *, look_up_first: bool = False) -> list[Outcome]:
        """Store the drafts; a client_id stored before gets its first copy.

        Stored without the client_id lookup first: only when the unique key refuses one (a retry, or
        its copy committed by another process meanwhile) is the batch stored again with it.
        `look_up_first` (after a dropped connection) looks from the start, by message id too.
        """
        if not look_up_first:
            try:
                outcomes = await self._commit(drafts, look_up_copies=False)
            except IntegrityError as exc:
                if not messages.is_client_id_conflict(exc):
                    raise
            else:
                return await self._retries_into_blocked_chats(drafts, outcomes)
        return await self._commit(drafts, look_up_copies=True)

    async def _retries_into_blocked_chats(self, drafts: list[Draft], outcomes: list[Outcome]) -> list[Outcome]:
        """Look up the client_ids of sends refused because their chat is blocked.

        A chat blocked after a send was stored, and before its retry came, refuses the retry before the
        unique key can: REALTIME.md still acks the first copy, so these are stored again, alone, looking
        their copies up (nothing new is stored in a blocked chat).
        """
        again = [n for n, outcome in enumerate(outcomes) if outcome.blocked and drafts[n].client_id is not None]
        if not again:
            return outcomes
        found = await self._commit([drafts[n] for n in again], look_up_copies=True)
        outcomes = list(outcomes)
        for n, outcome in zip(again, found, strict=True):
            outcomes[n] = outcome
        return outcomes

    async def _commit(self, drafts: list[Draft], *, look_up_copies: bool) -> list[Outcome]:
        if self._one_call and len(drafts) == 1 and not look_up_copies:
            outcomes = [await store_one(self._connection, drafts[0], utcnow())]
        else:
            async with self._connection.lean() as db:
                outcomes = await store_batch(db, drafts, utcnow(), look_up_copies=look_up_copies)
        self.batches += 1
        return outcomes

    async def _settle(self, batch: list[tuple[Draft, asyncio.Future[Sent]]], outcomes: list[Outcome]) -> None:
        """After the commit: answer every caller, then publish the new messages' events."""
        outbox = Outbox()
        stored = {outcome.row.id for outcome in outcomes if outcome.row is not None and not outcome.duplicate}
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if outcome.error is not None:
                future.set_exception(outcome.error)
                continue
            assert outcome.row is not None and outcome.chat is not None
            out = MessageOut.of(outcome.row, outcome.chat)
            data = out.model_dump(mode="json")
            # A retry's first copy, stored before this batch, is announced again: its own events may never
            # have gone out (a commit whose reply was lost, a process stopped between commit and publish).
            # Sockets drop a seq they already sent.
            # Never into a blocked chat: its retry is acked, but the block cut the live link (docs/realtime.md).
            if (not outcome.duplicate or outcome.row.id not in stored) and outcome.chat.status != "blocked":
                receipt = outcome.read_others and not outcome.duplicate
                message_events(outbox, outcome.chat, outcome.row.sender_id, data, receipt=receipt)
            future.set_result(Sent(out, outcome.duplicate, data))
        await publish(self._fanout, outbox)  # with Redis this only queues: the next batch does not wait


def retrieved(future: asyncio.Future[Any]) -> None:
    """The error of work whose caller went away is not worth an "exception never retrieved" log."""
    if not future.cancelled():
        future.exception()


def message_events(
    outbox: Outbox, chat: Chat | ChatState, sender_id: str, message: dict[str, Any], *, receipt: bool
) -> None:
    """The message to both sides and a badge to the recipient.

    `receipt`: writing read the counterpart's messages, who hears so, and the writer's unread count
    fell, so the writer gets a badge too. For every stored message: a send's, and the first of a new
    chat (realtime/actions.py).
    """
    recipient = chat.owner_id if sender_id == chat.renter_id else chat.renter_id
    outbox.add([chat.renter_id, chat.owner_id], {"type": "message", "message": message})
    if receipt:
        outbox.add(
            [recipient], {"type": "read", "chat_id": chat.id, "reader_id": sender_id, "up_to_seq": message["seq"]}
        )
    outbox.badge(recipient, *([sender_id] if receipt else []))
