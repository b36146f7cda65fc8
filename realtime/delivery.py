"""What one socket is sent, in order: the writer side of a connection.

Every frame to a socket goes through its one writer task, which reads the
socket's mailbox: events from the fan-out, and the reader's replies and sync
requests put there as `_reply` and `_sync` items. One writer means frames never
interleave, and it lets the writer keep, per chat, the last seq this socket
was sent:

- a `message` at or below that seq was already sent (by a sync, or a gap
  fill): dropped, so each message reaches a socket once;
- a `sync` sends what the socket was not sent: what hello's `last_seq`
  covered, and anything newer not yet sent, never again what came live since.
  So those older messages arrive after the newer live ones; clients place
  messages by seq;
- a `message` beyond the next seq means some are missing: published out of
  order by two requests (each publishes after its own commit), or lost while
  Redis was down. It waits up to REORDER_SECONDS for the missing ones to
  arrive; what has not arrived by then is read from the database. Either way a
  socket sees every chat in seq order.

A badge recount is asked of the process's badge counter and its answer comes
back through the mailbox (`_badge`), one at a time per socket: the writer goes
on sending while the database counts.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket

from http_api.schemas.chats import MessageOut
from persistence import chats, messages, users
from persistence.models import Chat
from realtime import wire
from realtime.badges import Counts
from realtime.mailbox import RESYNC_TYPE, Mailbox
from realtime.outage_log import OutageLog
from realtime.outbox import BLOCKED_TYPE, RECHECK_PRESENCE_TYPE
from realtime.presence import HEARTBEAT_EVERY, Version
from resources import Resources

log = logging.getLogger("homer.ws")
rechecks_failed = OutageLog(log)  # every resynced socket of a process, while the database is down

# Pages for syncs and gap fills: bounded memory per socket, few round trips.
FILL_PAGE = 200
# Badges of a burst are coalesced: at most one recount this often per socket.
BADGE_EVERY_SECONDS = 0.5
# Concurrent senders' events cross on the way; most gaps close by themselves within milliseconds.
REORDER_SECONDS = 0.2
# A resync reads presence only after every process's next heartbeat: a Redis that restarted empty holds none
# until each process writes its users again, and reading sooner would tell each socket that its online
# counterparts went offline. Spread, so that the sockets of a process resyncing together do not read at once.
PRESENCE_RECHECK_SECONDS = HEARTBEAT_EVERY + 1.0
PRESENCE_RECHECK_SPREAD_SECONDS = 4.0
# A recheck whose read failed is tried again after this, then twice as long each time, up to the maximum.
PRESENCE_RETRY_SECONDS, PRESENCE_RETRY_MAX_SECONDS = 5.0, 60.0
# In the typing cache, a chat that was blocked: marked rather than forgotten, since blocks are final and a
# typing frame may be reading the chat, still active, while the block's event passes.
BLOCKED = ""


class Revoked(Exception):
    """The socket's token was logged out (or its user deactivated): close with 4401."""


@dataclass(slots=True)
class Delivery:
    res: Resources
    websocket: WebSocket
    mailbox: Mailbox
    user_id: str
    jti: str
    sent_seq: dict[str, int] = field(default_factory=dict)
    # chat -> the seq from which every message up to sent_seq went to this socket: hello's last_seq, then lower
    # for each sync that asks for older ones
    sent_from: dict[str, int] = field(default_factory=dict)
    last_badge: Counts | None = None
    badge_due: bool = False
    badge_asked: bool = False  # a recount is under way; its answer will arrive as `_badge`
    badge_at: float = 0.0
    counterparts: dict[str, str] = field(default_factory=dict)  # the connection's: chat -> who hears our typing
    early: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)  # chat -> seq -> message
    early_since: dict[str, float] = field(default_factory=dict)
    # Presence announcements checked before hello's reads, and per user older than one passed on, are
    # stale: two processes can publish one user's in the other order than they checked (realtime/presence.py).
    presence_floor: Version = (0, 0)
    presence_seen: dict[str, Version] = field(default_factory=dict)
    # Whom hello and presence frames last said were online; None for nobody (most idle sockets: no set each).
    told_online: set[str] | None = None
    recheck_at: float | None = None  # after a resync or a failed lookup: when to read who of the counterparts is online
    recheck_tries: int = 0  # rechecks scheduled in a row because a read failed: each waits twice as long

    def next_wait(self) -> float | None:
        """Seconds until `tick()` has work (0: now), or None when nothing waits on time."""
        deadlines = [since + REORDER_SECONDS for since in self.early_since.values()]
        if self.badge_due and not self.badge_asked:
            deadlines.append(self.badge_at + BADGE_EVERY_SECONDS)
        if self.recheck_at is not None:
            deadlines.append(self.recheck_at)
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    async def tick(self) -> None:
        """Fill gaps that waited long enough, then send a badge and presence that are due."""
        now = time.monotonic()
        for chat_id, since in list(self.early_since.items()):
            if now >= since + REORDER_SECONDS:
                await self.fill(chat_id, self.sent_seq.get(chat_id, 0), min(self.early[chat_id]) - 1)
                await self.release(chat_id)
        if self.badge_due and not self.badge_asked and now >= self.badge_at + BADGE_EVERY_SECONDS:
            self.badge()
        if self.recheck_at is not None and now >= self.recheck_at:
            self.recheck_at = None
            await self.recheck_presence()

    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message":
            await self.message(event["message"])
        elif kind == "badge":
            self.badge_due = True
        elif kind == "_badge":
            await self.badge_counted(event["counts"])
        elif kind == BLOCKED_TYPE:
            self.counterparts[event["chat_id"]] = BLOCKED
        elif kind == "_reply":
            await self.send(event["frame"])
        elif kind == "_sync":
            try:
                await self.sync(event["chats"])
            finally:
                event["answered"]()
        elif kind == RESYNC_TYPE:
            await self.resync()
        elif kind == "presence":
            await self.presence(event)
        elif kind == RECHECK_PRESENCE_TYPE:
            if self.recheck_at is None:  # one already due reads everything this one would
                self.recheck_later()
        elif kind == "_revoked":
            if event.get("jti") in (self.jti, "*"):
                raise Revoked()
        elif isinstance(kind, str) and not kind.startswith("_"):
            await self.send(event)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.websocket.send_text(wire.dumps(frame))

    async def presence(self, event: dict[str, Any]) -> None:
        """Pass on an announcement newer than what this socket knows, unless it repeats what it was told.

        Hello's floor is stamped before its reads, and its `online` read after them: an announcement
        stamped in between may already be in `hello.online`, and is then dropped here as a repeat.
        """
        user_id, online, stamp = event["user_id"], event["online"], event.get("version")
        if stamp is not None:
            version = (stamp[0], stamp[1])
            if version <= max(self.presence_floor, self.presence_seen.get(user_id, self.presence_floor)):
                return
            self.presence_seen[user_id] = version
        told = self.told_online if self.told_online is not None else set()
        if (user_id in told) == online:
            return
        if online:
            told.add(user_id)
            self.told_online = told
        else:
            told.discard(user_id)
        await self.send({"type": "presence", "user_id": user_id, "online": online})

    async def message(self, message: dict[str, Any]) -> None:
        chat_id, seq = message["chat_id"], message["seq"]
        have = self.sent_seq.get(chat_id, 0)
        if seq <= have:
            return
        if seq > have + 1:
            self.early.setdefault(chat_id, {})[seq] = message
            self.early_since.setdefault(chat_id, time.monotonic())
            return
        await self.send({"type": "message", "message": message})
        self.sent_seq[chat_id] = seq
        await self.release(chat_id)

    async def release(self, chat_id: str) -> None:
        """Send the early messages that are now next in line; forget the ones already sent."""
        waiting = self.early.get(chat_id, {})
        while waiting:
            have = self.sent_seq.get(chat_id, 0)
            for seq in [s for s in waiting if s <= have]:
                del waiting[seq]
            if have + 1 not in waiting:
                break
            await self.send({"type": "message", "message": waiting.pop(have + 1)})
            self.sent_seq[chat_id] = have + 1
        if not waiting:
            self.early.pop(chat_id, None)
            self.early_since.pop(chat_id, None)

    async def fill(self, chat_id: str, after: int, up_to: int | None) -> None:
        """Send the chat's stored messages after `after` (up to `up_to`, or to the end), in seq order."""
        while up_to is None or after < up_to:
            async with self.res.read() as session:
                chat = await session.get(Chat, chat_id)
                if chat is None:
                    return
                if chat.status == "blocked":  # the block cut the live link: none of it, nor what waited
                    self.early.pop(chat_id, None)
                    self.early_since.pop(chat_id, None)
                    self.sent_seq[chat_id] = max(self.sent_seq.get(chat_id, 0), chat.last_seq)
                    return
                page, more = await messages.history(session, chat_id, before_seq=None, after_seq=after, limit=FILL_PAGE)
            for row in page:
                if up_to is not None and row.seq > up_to:
                    return
                await self.send({"type": "message", "message": MessageOut.of(row, chat).model_dump(mode="json")})
                after = row.seq
                self.sent_seq[chat_id] = max(self.sent_seq.get(chat_id, 0), after)
            if not more:
                return

    async def sync(self, wanted: dict[str, int]) -> None:
        """Send what the client lacks and this socket did not send it (`sent_from` to `sent_seq`).

        A blocked chat is refused as a chat of others is, with its own detail (its history stays on REST).
        Refused chats are named in one `error` per kind, not one each: a sync of a thousand made-up ids
        would otherwise have the server write a thousand frames for one frame of the client's.
        """
        async with self.res.read() as session:
            found = await chats.statuses(session, self.user_id, list(wanted))
        refused: dict[bool, list[str]] = {}  # blocked or not -> those chats
        for chat_id, have in wanted.items():
            status, last_seq = found.get(chat_id, (None, 0))
            if status not in chats.READABLE_STATUSES:
                refused.setdefault(status == "blocked", []).append(chat_id)
                continue
            have = min(have, last_seq)  # a client's claim past the chat's end (stale local state) hides nothing
            sent_from = self.sent_from.setdefault(chat_id, 0)  # a chat new since hello came whole, from seq 1
            sent = self.sent_seq.get(chat_id, 0)
            if have > sent:  # the client got more elsewhere (another tab, REST): go on from there
                # What this socket was sent stays known: a later sync claiming less gets none of it again.
                if sent_from == sent:  # nothing was: the client's seq is all there is to go by
                    self.sent_from[chat_id] = sent_from = have
                self.sent_seq[chat_id] = sent = have
            if have < sent_from:
                await self.fill(chat_id, have, sent_from)
                self.sent_from[chat_id] = have
            if last_seq > sent:  # newer ones, committed after that read, come live
                await self.fill(chat_id, sent, None)
            await self.release(chat_id)
        for blocked, chat_ids in refused.items():
            await self.send(refusal(chat_ids, blocked=blocked))
        await self.send({"type": "synced"})

    async def resync(self) -> None:
        """After events were lost: what every chat missed, where each counterpart has read to, who is
        online (a little later: `PRESENCE_RECHECK_SECONDS`), fresh counts.

        A logout during the outage may have lost its `_revoked` event too, so the token is checked again.
        """
        async with self.res.read() as session:
            if await users.user_for_token(session, self.user_id, self.jti) is None:
                raise Revoked()
            states = await chats.resync_states(session, self.user_id)
        self.counterparts.clear()  # a lost `_blocked` event too: typing reads each chat again
        for chat_id, last_seq, _, _ in states:
            if last_seq > self.sent_seq.get(chat_id, 0):
                await self.fill(chat_id, self.sent_seq.get(chat_id, 0), last_seq)
                await self.release(chat_id)
        for chat_id, _, reader_id, up_to_seq in states:  # receipts are marks: a repeated one changes nothing
            if up_to_seq:
                await self.send({"type": "read", "chat_id": chat_id, "reader_id": reader_id, "up_to_seq": up_to_seq})
        self.recheck_at = (
            time.monotonic() + PRESENCE_RECHECK_SECONDS + random.uniform(0, PRESENCE_RECHECK_SPREAD_SECONDS)
        )
        if self.badge_asked:
            self.badge_due = True  # the recount under way may have started before what was just sent
        else:
            self.badge()

    async def recheck_presence(self) -> None:
        """Tell the socket of every counterpart whose presence changed since it was last told.

        Announcements lost with the other events would otherwise leave a counterpart shown online (or
        offline) until their next change. Those stamped before the floor are already in this read.

        As hello: the floor stamped before the chats are read, so that a block committed after this read is
        announced with a newer version; the counterparts read now, since one may have blocked meanwhile.
        When Redis or the database fails a read, nothing is sent (what this process alone knows is wrong for
        the others) and the socket stays: presence is a hint, and its messages and counts are in order. The
        recheck is tried again later, each wait twice the last, up to a minute.
        """
        floor = await self.res.presence.version()
        others = None if floor is None else await self.counterparts_or_none()
        if floor is None or others is None:
            return self.recheck_later()
        online, stamp = await self.res.presence.snapshot(others)
        if stamp is None:
            return self.recheck_later()
        self.recheck_tries = 0
        told = self.told_online if self.told_online is not None else set()
        for user_id in sorted(told | set(others)):
            if (user_id in told) != (user_id in online):
                await self.send({"type": "presence", "user_id": user_id, "online": user_id in online})
        self.told_online = online or None
        self.presence_floor = max(self.presence_floor, floor)

    def recheck_later(self) -> None:
        self.recheck_tries += 1
        wait = min(PRESENCE_RETRY_MAX_SECONDS, PRESENCE_RETRY_SECONDS * 2 ** (self.recheck_tries - 1))
        self.recheck_at = time.monotonic() + wait

    async def counterparts_or_none(self) -> list[str] | None:
        """Whom the user chats with; None when the database failed the read (logged at most once per 10 s)."""
        try:
            async with self.res.read() as session:
                return await chats.counterpart_ids(session, self.user_id)
        except SQLAlchemyError as exc:
            rechecks_failed.warning("presence recheck: the database failed (%s); trying again", type(exc).__name__)
            return None

    def badge(self) -> None:
        """Ask for a recount; `badge_counted` gets its answer from the mailbox."""
        self.badge_due, self.badge_asked, self.badge_at = False, True, time.monotonic()
        self.res.badges.ask(self.user_id, lambda counts: self.mailbox.deliver({"type": "_badge", "counts": counts}))

    async def badge_counted(self, counts: Counts | Exception) -> None:
        """Send the totals if they changed; a failed recount fails the writer as a failed read would."""
        self.badge_asked = False
        if isinstance(counts, Exception):
            raise counts
        if counts != self.last_badge:
            self.last_badge = counts
            await self.send({"type": "badge", "unread_messages": counts[0], "unread_notifications": counts[1]})


def refusal(chat_ids: list[str], *, blocked: bool) -> dict[str, Any]:
    """The `forbidden` error of a sync for the chats it cannot have, named in `chat_ids`."""
    if len(chat_ids) == 1:
        detail = f"Chat {chat_ids[0]} is blocked" if blocked else f"Not a participant of {chat_ids[0]}"
    else:
        detail = f"{len(chat_ids)} chats are blocked" if blocked else f"Not a participant of {len(chat_ids)} chats"
    return {"type": "error", "code": "forbidden", "detail": detail, "chat_ids": chat_ids}
