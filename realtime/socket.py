"""`/ws`: one WebSocket per browser tab (REALTIME.md).

A connection is at most three tasks that stop together: the reader (client
frames as they arrive: size, shape and rate limits), the writer (`Delivery`,
everything sent to the client) and, from the first frame that has an effect,
the worker (each accepted frame's effect, in order). An idle socket is the
bulk of a server's sockets, so it runs only the reader and the writer; token
expiry is a timer, and a mailbox that overflows (or closes) stops the
connection through a callback, also while the writer is stuck in a send to a
dead client. Rate limits count frames when they arrive, not when the worker
gets to them, so a slow database never turns a burst into a trickle that
passes. No task holds a database session between frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

import client_json
from auth.tokens import Claims
from errors import ApiError, Unauthorized
from persistence import chats, notifications
from persistence.engine import connection_lost
from persistence.types import utcnow
from realtime import actions
from realtime.credentials import check, claimed, origin_allowed
from realtime.delivery import BLOCKED, Delivery, Revoked
from realtime.frames import FrameError, PingFrame, ReadFrame, SendFrame, SyncFrame, TypingFrame, parse, payload
from realtime.limits import MERGED_READ, Limits
from realtime.mailbox import Mailbox, MailboxClosed, Overflowed
from realtime.outage_log import OutageLog
from realtime.outbox import Outbox, publish, user_channel
from realtime.protocol import MAX_FRAME_BYTES
from realtime.sending import retrieved
from resources import Resources, resources

log = logging.getLogger("homer.ws")
# During a database outage every frame and socket would log the same line.
unstored, closed_for_the_database = OutageLog(log), OutageLog(log)

# Accepted frames waiting for the worker. The rate limits admit about 55 a
# second, so this is only reached when storage stalls; then frames are refused.
MAX_PENDING_FRAMES = 100
DRAIN_SECONDS = 5.0
# Syncs accepted and not yet answered: a reconnect's sync, then one per chat the user opens meanwhile.
MAX_SYNCS_WAITING = 4
# How long a close may wait for the client to take its frame: one that stopped reading never does.
CLOSE_SECONDS = 5.0
CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN_ORIGIN = 4401, 4403
CLOSE_POLICY, CLOSE_RESTARTING, CLOSE_TRY_AGAIN = 1008, 1012, 1013


class Close(Exception):
    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


async def endpoint(websocket: WebSocket) -> None:
    res = resources(websocket)
    await websocket.accept()
    if not origin_allowed(websocket, res.settings.cors_origins):
        await websocket.close(CLOSE_FORBIDDEN_ORIGIN, "Origin not allowed")
        return
    async with contextlib.AsyncExitStack() as stack:
        try:
            claims = await claimed(websocket, res)
            channel = user_channel(claims.user_id)
            mailbox = await stack.enter_async_context(res.fanout.subscribe(channel, maxsize=res.settings.ws_backlog))
            # Checked once subscribed: a logout committed before this is seen here, one after reaches the mailbox.
            await check(res, claims)
            stack.enter_context(res.tokens.holding(claims.user_id, claims.jti, mailbox))
        except Unauthorized as exc:
            await close(websocket, Close(CLOSE_UNAUTHORIZED, str(exc.detail)))
            return
        except (SQLAlchemyError, OSError):
            await close(websocket, database_failed("checking its credentials"))
            return
        connection = Connection(res, websocket, claims, mailbox, Limits.per_socket(res.settings.ws_sends_per_second))
        try:
            # Inside the try: a socket cancelled while joining must still leave, or its user stays online.
            await res.presence.connected(claims.user_id)
            await connection.run()
        finally:
            await res.presence.disconnected(claims.user_id)


@dataclass(slots=True)
class Connection:
    res: Resources
    websocket: WebSocket
    claims: Claims
    mailbox: Mailbox
    limits: Limits
    # chat_id -> who hears our typing, or BLOCKED: the writer marks a chat when it is blocked (outbox.BLOCKED_TYPE)
    counterparts: dict[str, str] = field(default_factory=dict)
    pending: asyncio.Queue[Any] | None = None  # frames for the worker; both are made by the first such frame
    syncs: int = 0  # syncs accepted and their `synced` not yet sent
    reads: dict[str, int] = field(default_factory=dict)  # chat_id -> up_to_seq of a read the worker has not begun
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # What ended the connection: the first of its tasks to finish, or a Close from a timer or the mailbox.
    stopped: asyncio.Future[asyncio.Task[None] | Close] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def user_id(self) -> str:
        return self.claims.user_id

    async def run(self) -> None:
        delivery = Delivery(
            self.res, self.websocket, self.mailbox, self.user_id, self.claims.jti, counterparts=self.counterparts
        )
        try:
            await self.hello(delivery)
        except WebSocketDisconnect:
            return  # the client left while connecting: nothing to close, nothing wrong
        except (SQLAlchemyError, OSError):
            await close(self.websocket, database_failed("reading its hello"))
            return
        remaining = (self.claims.expires_at - utcnow()).total_seconds()
        expiry = asyncio.get_running_loop().call_later(
            max(0.0, remaining), self.stop, Close(CLOSE_UNAUTHORIZED, "Token expired")
        )
        self.mailbox.on_close = self.mailbox_closed
        reader, writer = self.start(self.read()), self.start(self.write(delivery))
        try:
            await self.stopped
            if writer.done() and went_away(writer):
                await asyncio.wait([reader], timeout=DRAIN_SECONDS)  # store what the client sent before leaving
        finally:
            expiry.cancel()
            self.mailbox.on_close = None
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.finish(self.stopped.result())

    def start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self.tasks.append(task)
        task.add_done_callback(self.stop)
        return task

    def stop(self, outcome: asyncio.Task[None] | Close) -> None:
        if not self.stopped.done():
            self.stopped.set_result(outcome)

    def mailbox_closed(self) -> None:
        """The mailbox overflowed or the fan-out stopped: close now, even while the writer is stuck sending."""
        if self.mailbox.overflowed:
            self.stop(Close(CLOSE_TRY_AGAIN, "Too far behind; reconnect and sync"))
        else:
            self.stop(Close(CLOSE_RESTARTING, "Server restarting"))

    async def finish(self, outcome: asyncio.Task[None] | Close) -> None:
        if isinstance(outcome, Close):
            await close(self.websocket, outcome)
        elif outcome.cancelled() or went_away(outcome):
            return  # the client went away mid-send: nothing to close, nothing wrong
        elif isinstance(outcome.exception(), Close):
            await close(self.websocket, outcome.exception())  # type: ignore[arg-type]
        elif outcome.exception() is not None:
            log.error("socket task failed", exc_info=outcome.exception())
            await close(self.websocket, Close(1011, "Server error"))

    async def hello(self, delivery: Delivery) -> None:
        # Stamped before the chats are read, as an announcement's version is (realtime/presence.py): a block
        # committed after this read's view is announced with a newer version, so its `offline` gets through.
        floor = await self.res.presence.version()
        async with self.res.read() as session:
            states = await chats.chat_states(session, self.user_id)
            others = await chats.counterpart_ids(session, self.user_id)
            notifications_unread = await notifications.unread_count(session, self.user_id)
        # The same chats and arithmetic as chats.unread_total, already at hand: no second query.
        messages_unread = sum(unread for _, _, unread in states)
        delivery.sent_seq = {chat_id: last_seq for chat_id, last_seq, _ in states}
        delivery.sent_from = dict(delivery.sent_seq)
        delivery.last_badge = (messages_unread, notifications_unread)
        online, stamp = await self.res.presence.snapshot(others)
        delivery.presence_floor = floor or delivery.presence_floor  # without one, every announcement passes
        delivery.told_online = online or None
        if floor is None or stamp is None:
            # Redis failed a read. Without the lookup, `online` is this process's sockets alone: counterparts
            # connected elsewhere would show offline until their next change. Without the floor, an older
            # announcement could pass. Either way, read again a little later.
            delivery.recheck_later()
        await delivery.send(
            {
                "type": "hello",
                "user_id": self.user_id,
                "unread_messages": messages_unread,
                "unread_notifications": notifications_unread,
                "chats": [{"chat_id": c, "last_seq": s, "unread_count": u} for c, s, u in states],
                "online": sorted(online),
                "server_time": utcnow().isoformat(),
            }
        )

    async def write(self, delivery: Delivery) -> None:
        try:
            while True:
                wait = delivery.next_wait()
                if wait == 0:
                    await delivery.tick()
                    continue
                event = await self.mailbox.get_within(wait)
                if event is not None:
                    await delivery.handle(event)
        except Overflowed:
            raise Close(CLOSE_TRY_AGAIN, "Too far behind; reconnect and sync") from None
        except MailboxClosed:
            raise Close(CLOSE_RESTARTING, "Server restarting") from None
        except Revoked:
            raise Close(CLOSE_UNAUTHORIZED, "Logged out") from None
        except SQLAlchemyError:
            # A sync, a gap fill or a badge could not be read: what this socket was sent is no longer
            # known to be complete, so the client reconnects after a pause and syncs.
            raise database_failed("writing to it") from None

    async def read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                # A tab that sends and closes at once still gets its message stored.
                if self.pending is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.pending.join(), DRAIN_SECONDS)
                return
            data = payload(message)
            # Our protocol refuses such frames as it reads them; this holds under any other uvicorn --ws.
            if len(data if isinstance(data, bytes) else data.encode()) > MAX_FRAME_BYTES:
                raise Close(CLOSE_POLICY, "Frame larger than 64 KB")
            try:
                self.accept(parse(decode(data)))
            except FrameError as exc:
                self.refuse(exc)

    def accept(self, frame: Any) -> None:
        if isinstance(frame, ReadFrame) and frame.chat_id in self.reads:
            # Reads only move forward: one still waiting for the worker takes the higher seq, and the burst
            # of a client marking each message it shows costs one write; only hundreds a second are refused.
            if not self.limits.allow(MERGED_READ):
                raise FrameError("rate_limited", "Too many read frames")
            self.reads[frame.chat_id] = max(self.reads[frame.chat_id], frame.up_to_seq)
            return
        if not self.limits.allow(frame.type):
            raise FrameError("rate_limited", f"Too many {frame.type} frames", getattr(frame, "client_id", None))
        if isinstance(frame, PingFrame):
            self.reply({"type": "pong"})
        elif isinstance(frame, SyncFrame):
            # A few at a time, each answered in turn with its own `synced`: each may hold a thousand chats
            # until the writer gets to it, and a client that stopped reading could otherwise queue a mailbox's
            # worth of them (tens of MB) before 1013.
            if self.syncs >= MAX_SYNCS_WAITING:
                raise FrameError("rate_limited", "Too many syncs waiting; send the next after a synced")
            self.syncs += 1
            self.mailbox.deliver({"type": "_sync", "chats": frame.chats, "answered": self.sync_answered})
        elif isinstance(frame, (SendFrame, ReadFrame, TypingFrame)):
            if self.pending is None:
                self.pending = asyncio.Queue(MAX_PENDING_FRAMES)
                self.start(self.work(self.pending))
            try:
                self.pending.put_nowait(frame)
            except asyncio.QueueFull:
                raise FrameError("unavailable", "Busy; try again", getattr(frame, "client_id", None)) from None
            if isinstance(frame, ReadFrame):
                self.reads[frame.chat_id] = frame.up_to_seq
        else:
            raise FrameError("bad_frame", "Already authenticated")

    def sync_answered(self) -> None:
        self.syncs -= 1

    def refuse(self, exc: FrameError) -> None:
        self.reply(exc.frame())
        # `unavailable` is the server failing (the database, a full queue), not the client misbehaving.
        if exc.code != "unavailable" and self.limits.refused():
            raise Close(CLOSE_POLICY, "Too many refused frames")

    async def work(self, pending: asyncio.Queue[Any]) -> None:
        """Apply accepted frames one at a time, in the order the client sent them."""
        while True:
            frame = await pending.get()
            try:
                await self.dispatch(frame)
            except FrameError as exc:
                self.refuse(exc)
            finally:
                pending.task_done()

    async def dispatch(self, frame: Any) -> None:
        if isinstance(frame, SendFrame):
            await self.send_message(frame)
        elif isinstance(frame, ReadFrame):
            up_to_seq = self.reads.pop(frame.chat_id)  # with the reads merged into it since it was accepted
            await self.guarded(to_the_end(actions.mark_read(self.res, self.user_id, frame.chat_id, up_to_seq)))
        elif isinstance(frame, TypingFrame):
            await self.typing(frame.chat_id)

    async def send_message(self, frame: SendFrame) -> None:
        attachments = [a if isinstance(a, str) else a.model_dump(exclude_none=True) for a in frame.attachments]
        sent = await self.guarded(
            actions.send_message(
                self.res, self.user_id, frame.chat_id, frame.message, attachments, frame.stored_client_id
            ),
            frame.client_id,
        )
        self.reply({"type": "ack", "client_id": frame.client_id, "message": sent.data})

    async def typing(self, chat_id: str) -> None:
        counterpart = self.counterparts.get(chat_id)
        if counterpart is None:
            async with self.res.read() as session:
                chat = await self.guarded(chats.chat_for_member(session, chat_id, self.user_id))
            if chat.status == "blocked":
                raise FrameError("forbidden", "This chat is blocked")
            # setdefault: a block whose event the writer handled during that read has left its mark
            counterpart = self.counterparts.setdefault(chat_id, chats.counterpart_id(chat, self.user_id))
        if counterpart == BLOCKED:
            raise FrameError("forbidden", "This chat is blocked")
        outbox = Outbox()
        outbox.add([counterpart], {"type": "typing", "chat_id": chat_id, "user_id": self.user_id})
        await publish(self.res.fanout, outbox)

    async def guarded(self, work: Any, client_id: str | None = None) -> Any:
        """Run an action; a refusal or a storage failure becomes an `error` frame, never a dead socket."""
        try:
            return await work
        except ApiError as exc:
            code = "forbidden" if exc.status_code in (403, 404) else exc.code
            detail = exc.detail if isinstance(exc.detail, str) else "Invalid frame"
            raise FrameError(code, detail, client_id) from None
        except (SQLAlchemyError, OSError) as exc:
            if connection_lost(exc):  # the database is away: the outage explains every frame it refuses
                unstored.warning(
                    "storing a frame's effect failed: the database is unreachable (%s)", type(exc).__name__
                )
            else:
                log.exception("storing a frame's effect failed")
            raise FrameError("unavailable", "Could not store that; try again", client_id) from None

    def reply(self, frame: dict[str, Any]) -> None:
        self.mailbox.deliver({"type": "_reply", "frame": frame})


_finishing: set[asyncio.Task[Any]] = set()  # actions whose socket closed while they ran


def to_the_end(work: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
    """Run `work` to its end even if the socket closes meanwhile.

    A read cancelled between its commit and its publish would leave the
    counterpart without the receipt; sends are shielded in the batcher.
    """
    task = asyncio.create_task(work)
    _finishing.add(task)
    task.add_done_callback(_finishing.discard)
    task.add_done_callback(retrieved)
    return asyncio.shield(task)


def went_away(task: asyncio.Task[None]) -> bool:
    return not task.cancelled() and isinstance(task.exception(), (WebSocketDisconnect, OSError))


def decode(data: str | bytes) -> Any:
    try:
        return client_json.loads(data)
    except ValueError:
        raise FrameError("bad_frame", "Frames are JSON objects") from None


def database_failed(doing: str) -> Close:
    """The close for a socket the database failed: 1013, which clients retry after a pause."""
    closed_for_the_database.warning("closing a socket with %s: the database failed while %s", CLOSE_TRY_AGAIN, doing)
    return Close(CLOSE_TRY_AGAIN, "Service unavailable; reconnect shortly")


async def close(websocket: WebSocket, reason: Close) -> None:
    """Send the close frame, giving up after CLOSE_SECONDS: the socket's presence and subscription go next."""
    log.info("closing a socket with %s: %s", reason.code, reason.reason)
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError, TimeoutError):
            async with asyncio.timeout(CLOSE_SECONDS):
                await websocket.close(reason.code, reason.reason[:120])
