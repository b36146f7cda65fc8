"""One channel of the fan-out inside one process: its mailboxes and the one subscription feeding them.

Only `Fanout._reconcile` opens and closes a `Subscription`, under the
channel's lock; see `realtime/fanout.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from broadcaster import Broadcast, Event

from realtime.mailbox import Mailbox
from realtime.publisher import BATCH_TYPE

log = logging.getLogger(__name__)


class Channel:
    def __init__(self, name: str) -> None:
        self.name = name
        self.mailboxes: set[Mailbox] = set()
        self.lock = asyncio.Lock()
        self.subscription: Subscription | None = None

    def deliver(self, message: str) -> None:
        """Decode once, then hand the same event to every mailbox without waiting on any of them."""
        try:
            event = json.loads(message)
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


@dataclass
class Subscription:
    """One broadcaster subscription and the task pumping its events into the channel's mailboxes."""

    broadcast: Broadcast
    exits: AsyncExitStack
    pump: asyncio.Task[None]

    @classmethod
    async def open(cls, broadcast: Broadcast, channel: Channel) -> Subscription:
        exits = AsyncExitStack()
        subscriber = await exits.enter_async_context(broadcast.subscribe(channel.name))
        pump = asyncio.create_task(_pump(subscriber.get, channel), name=f"fanout pump {channel.name}")
        return cls(broadcast, exits, pump)

    async def close(self) -> None:
        self.pump.cancel()
        await asyncio.wait([self.pump])
        await self.exits.aclose()


async def _pump(next_event: Callable[[], Awaitable[Event]], channel: Channel) -> None:
    # broadcaster's queue behind `next_event` is unbounded; it stays short because this loop never waits
    # on a mailbox (a full one overflows instead), so one slow socket cannot delay the others.
    while True:
        event = await next_event()
        channel.deliver(event.message)
