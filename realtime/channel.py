"""One channel of the fan-out inside one process: its mailboxes, fed by broadcaster's listener directly.

Only `Fanout._reconcile` attaches a channel to a `Broadcast` and detaches
it, under the channel's lock; see `realtime/fanout.py`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import broadcaster
from broadcaster import Event

from realtime import wire
from realtime.mailbox import Mailbox
from realtime.publisher import BATCH_TYPE

log = logging.getLogger(__name__)


class Channel:
    def __init__(self, name: str) -> None:
        self.name = name
        self.mailboxes: set[Mailbox] = set()
        self.lock = asyncio.Lock()
        self.subscribed_to: Broadcast | None = None  # the fan-out replaces its Broadcast after an outage

    async def put(self, event: Event) -> None:
        """What broadcaster's listener calls for each event of this channel; it must never wait or raise."""
        try:
            self.deliver(event.message)
        except Exception:  # a bug here must not stop the listener, which feeds every channel
            log.exception("delivering an event on %s failed", self.name)

    def deliver(self, message: str) -> None:
        """Decode once, then hand the same event to every mailbox without waiting on any of them."""
        try:
            event = wire.loads(message)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            log.warning("ignored a message on %s that is not a JSON object", self.name)
            return
        # The publisher sends a channel's events of one pipeline as one message; mailboxes get them one by one.
        events = event.get("events") if event.get("type") == BATCH_TYPE else [event]
        for one in events if isinstance(events, list) else []:
            if isinstance(one, dict):
                for mailbox in self.mailboxes:
                    mailbox.deliver(one)


class Broadcast(broadcaster.Broadcast):
    """broadcaster's `Broadcast` whose subscribers are our channels, fed as events arrive.

    broadcaster gives every subscription an unbounded `asyncio.Queue` and an
    async generator, and leaves reading the queue to a task of the caller's
    (PITFALLS.md). Its listener only calls `await subscriber.put(event)` on
    what its subscriber table holds, so `attach` puts the `Channel` itself
    there: each event goes straight to the channel's bounded mailboxes, one
    task hand-over fewer, and a channel costs no queue, generator or task. A
    user's channel is part of each of their idle sockets: about 9 KB per
    channel before, under 3 KB now (bench/README.md).
    """

    async def attach(self, channel: Channel) -> None:
        """Subscribe `channel` (one Channel per name: `Fanout` keeps them)."""
        subscribers: set[Any] | None = self._subscribers.get(channel.name)
        if not subscribers:
            await self._backend.subscribe(channel.name)
            self._subscribers[channel.name] = {channel}  # type: ignore[arg-type]  # put() is all it needs
        else:
            subscribers.add(channel)

    async def detach(self, channel: Channel) -> None:
        subscribers: set[Any] | None = self._subscribers.get(channel.name)
        if subscribers is None:
            return
        subscribers.discard(channel)
        if not subscribers:
            del self._subscribers[channel.name]
            await self._backend.unsubscribe(channel.name)
