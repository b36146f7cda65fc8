"""`/ws`: one WebSocket per browser tab (REALTIME.md).

A connection is four tasks that stop together: the reader (client frames as
they arrive: size, shape and rate limits), the worker (each accepted frame's
effect, in order), the writer (`Delivery`, everything sent to the client) and
a watchdog (token expiry, and a mailbox that overflowed while the writer was
stuck in a send). Rate limits count frames when they arrive, not when the
worker gets to them, so a slow database never turns a burst into a trickle
that passes. No task holds a database session between frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from errors import ApiError, Unauthorized
from persistence import chats, notifications
from persistence.types import utcnow
from realtime import actions
from realtime.credentials import Identity, identify, origin_allowed
from realtime.delivery import Delivery, Revoked
from realtime.frames import FrameError, PingFrame, ReadFrame, SendFrame, SyncFrame, TypingFrame, parse
from realtime.limits import Limits
from realtime.mailbox import Mailbox, MailboxClosed, Overflowed
from realtime.outbox import Outbox, publish, user_channel
from resources import Resources, resources

log = logging.getLogger("homer.ws")

MAX_FRAME_BYTES = 64 * 1024
# Accepted frames waiting for the worker. The rate limits admit about 55 a
# second, so this is only reached when storage stalls; then frames are refused.
MAX_PENDING_FRAMES = 100
DRAIN_SECONDS = 5.0
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
    try:
        identity = await identify(websocket, res)
    except Unauthorized as exc:
        await close(websocket, Close(CLOSE_UNAUTHORIZED, str(exc.detail)))
        return
    async with res.fanout.subscribe(user_channel(identity.user.id), maxsize=res.settings.ws_backlog) as mailbox:
        connection = Connection(res, websocket, identity, mailbox)
        await res.presence.connected(identity.user.id)
        try:
            await connection.run()
        finally:
            await res.presence.disconnected(identity.user.id)


@dataclass
class Connection:
    res: Resources
    websocket: WebSocket
    identity: Identity
    mailbox: Mailbox
    limits: Limits = field(default_factory=Limits)
    counterparts: dict[str, str] = field(default_factory=dict)  # chat_id -> who hears our typing
    pending: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(MAX_PENDING_FRAMES))

    @property
    def user_id(self) -> str:
        return self.identity.user.id

    async def run(self) -> None:
        delivery = Delivery(self.res, self.websocket, self.user_id, self.identity.claims.jti)
        await self.hello(delivery)
        tasks = [asyncio.create_task(work) for work in (self.read(), self.work(), self.write(delivery), self.watch())]
        reader, writer = tasks[0], tasks[2]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if writer in done and went_away(writer):
                await asyncio.wait([reader], timeout=DRAIN_SECONDS)  # store what the client sent before leaving
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and isinstance(task.exception(), Close):
                await close(self.websocket, task.exception())  # type: ignore[arg-type]
            elif went_away(task):
                return  # the client went away mid-send: nothing to close, nothing wrong
            elif not task.cancelled() and task.exception() is not None:
                log.error("socket task failed", exc_info=task.exception())
                await close(self.websocket, Close(1011, "Server error"))

    async def hello(self, delivery: Delivery) -> None:
        async with self.res.read() as session:
            states = await chats.chat_states(session, self.user_id)
            others = await chats.counterpart_ids(session, self.user_id)
            notifications_unread = await notifications.unread_count(session, self.user_id)
        # The same chats and arithmetic as chats.unread_total, already at hand: no second query.
        messages_unread = sum(unread for _, _, unread in states)
        delivery.sent_seq = {chat_id: last_seq for chat_id, last_seq, _ in states}
        delivery.last_badge = (messages_unread, notifications_unread)
        await delivery.send(
            {
                "type": "hello",
                "user_id": self.user_id,
                "unread_messages": messages_unread,
                "unread_notifications": notifications_unread,
                "chats": [{"chat_id": c, "last_seq": s, "unread_count": u} for c, s, u in states],
                "online": sorted(await self.res.presence.online(others)),
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
                try:
                    event = await (self.mailbox.get() if wait is None else asyncio.wait_for(self.mailbox.get(), wait))
                except TimeoutError:
                    continue
                await delivery.handle(event)
        except Overflowed:
            raise Close(CLOSE_TRY_AGAIN, "Too far behind; reconnect and sync") from None
        except MailboxClosed:
            raise Close(CLOSE_RESTARTING, "Server restarting") from None
        except Revoked:
            raise Close(CLOSE_UNAUTHORIZED, "Logged out") from None

    async def watch(self) -> None:
        """Close on token expiry, or on overflow even while the writer is stuck sending to a dead client."""
        while (remaining := (self.identity.claims.expires_at - utcnow()).total_seconds()) > 0:
            try:
                await asyncio.wait_for(self.mailbox.wait_closed(), remaining + 0.05)
            except TimeoutError:
                continue
            if self.mailbox.overflowed:
                raise Close(CLOSE_TRY_AGAIN, "Too far behind; reconnect and sync")
            raise Close(CLOSE_RESTARTING, "Server restarting")
        raise Close(CLOSE_UNAUTHORIZED, "Token expired")

    async def read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                # A tab that sends and closes at once still gets its message stored.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.pending.join(), DRAIN_SECONDS)
                return
            data = message.get("text") or message.get("bytes") or ""
            if len(data) > MAX_FRAME_BYTES:
                raise Close(CLOSE_POLICY, "Frame larger than 64 KB")
            try:
                self.accept(parse(decode(data)))
            except FrameError as exc:
                self.refuse(exc)

    def accept(self, frame: Any) -> None:
        if not self.limits.allow(frame.type):
            raise FrameError("rate_limited", f"Too many {frame.type} frames", getattr(frame, "client_id", None))
        if isinstance(frame, PingFrame):
            self.reply({"type": "pong"})
        elif isinstance(frame, SyncFrame):
            self.mailbox.deliver({"type": "_sync", "chats": frame.chats})
        elif isinstance(frame, (SendFrame, ReadFrame, TypingFrame)):
            try:
                self.pending.put_nowait(frame)
            except asyncio.QueueFull:
                raise FrameError("unavailable", "Busy; try again", getattr(frame, "client_id", None)) from None
        else:
            raise FrameError("bad_frame", "Already authenticated")

    def refuse(self, exc: FrameError) -> None:
        self.reply(exc.frame())
        if self.limits.refused():
            raise Close(CLOSE_POLICY, "Too many refused frames")

    async def work(self) -> None:
        """Apply accepted frames one at a time, in the order the client sent them."""
        while True:
            frame = await self.pending.get()
            try:
                await self.dispatch(frame)
            except FrameError as exc:
                self.refuse(exc)
            finally:
                self.pending.task_done()

    async def dispatch(self, frame: Any) -> None:
        if isinstance(frame, SendFrame):
            await self.send_message(frame)
        elif isinstance(frame, ReadFrame):
            await self.guarded(actions.mark_read(self.res, self.user_id, frame.chat_id, frame.up_to_seq))
        elif isinstance(frame, TypingFrame):
            await self.typing(frame.chat_id)

    async def send_message(self, frame: SendFrame) -> None:
        attachments = [a if isinstance(a, str) else a.model_dump(exclude_none=True) for a in frame.attachments]
        sent = await self.guarded(
            actions.send_message(self.res, self.user_id, frame.chat_id, frame.message, attachments, frame.client_id),
            frame.client_id,
        )
        self.reply({"type": "ack", "client_id": frame.client_id, "message": sent.message.model_dump(mode="json")})

    async def typing(self, chat_id: str) -> None:
        if chat_id not in self.counterparts:
            async with self.res.read() as session:
                chat = await self.guarded(chats.chat_for_member(session, chat_id, self.user_id))
            if chat.status == "blocked":
                raise FrameError("forbidden", "This chat is blocked")
            self.counterparts[chat_id] = chats.counterpart_id(chat, self.user_id)
        outbox = Outbox()
        outbox.add([self.counterparts[chat_id]], {"type": "typing", "chat_id": chat_id, "user_id": self.user_id})
        await publish(self.res.fanout, outbox)

    async def guarded(self, work: Any, client_id: str | None = None) -> Any:
        """Run an action; a refusal or a storage failure becomes an `error` frame, never a dead socket."""
        try:
            return await work
        except ApiError as exc:
            code = "forbidden" if exc.status_code in (403, 404) else exc.code
            detail = exc.detail if isinstance(exc.detail, str) else "Invalid frame"
            raise FrameError(code, detail, client_id) from None
        except (SQLAlchemyError, OSError):
            log.exception("storing a frame's effect failed")
            raise FrameError("unavailable", "Could not store that; try again", client_id) from None

    def reply(self, frame: dict[str, Any]) -> None:
        self.mailbox.deliver({"type": "_reply", "frame": frame})


def went_away(task: asyncio.Task[None]) -> bool:
    return not task.cancelled() and isinstance(task.exception(), (WebSocketDisconnect, OSError))


def decode(data: str | bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise FrameError("bad_frame", "Frames are JSON objects") from None


async def close(websocket: WebSocket, reason: Close) -> None:
    log.info("closing a socket with %s: %s", reason.code, reason.reason)
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
            await websocket.close(reason.code, reason.reason[:120])
