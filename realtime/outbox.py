"""Events leave the process only after the transaction that produced them commits.

Every change that other users should see live (a message, a read receipt, a
notification, a badge change) adds an event to an `Outbox` inside its unit of
work; `committed()` publishes them through `publish()` once the commit has
succeeded, and drops them if it fails. `publish()` is the one way events reach
the fan-out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from realtime.fanout import Fanout
from resources import Resources

# Internal: a chat was blocked. Its members' sockets forget who heard their typing in it, so that the
# next typing frame reads the chat again and is refused (realtime/socket.py).
BLOCKED_TYPE = "_blocked"
# Internal: a presence lookup made for these users failed and was answered from one process alone; their
# sockets read who of their counterparts is online again, a little later (realtime/delivery.py).
RECHECK_PRESENCE_TYPE = "_recheck_presence"


def user_channel(user_id: str) -> str:
    return f"user:{user_id}"


@dataclass
class Outbox:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add(self, user_ids: Iterable[str], event: dict[str, Any]) -> None:
        for user_id in dict.fromkeys(user_ids):  # each user once, in order
            self.events.append((user_channel(user_id), event))

    def badge(self, *user_ids: str) -> None:
        """The unread counts of these users changed; their sockets recount and push a `badge`."""
        self.add(user_ids, {"type": "badge"})


async def publish(fanout: Fanout, outbox: Outbox) -> None:
    for channel, event in outbox.events:
        await fanout.publish(channel, event)
    outbox.events.clear()


@asynccontextmanager
async def committed(res: Resources) -> AsyncIterator[tuple[AsyncSession, Outbox]]:
    """A unit of work whose events are published after, and only after, it commits."""
    outbox = Outbox()
    async with res.db.begin() as session:
        yield session, outbox
    await publish(res.fanout, outbox)
