"""What the lifespan opens and every request and socket shares (`request.state.resources`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from auth.passwords import Passwords
from lifestyle import LifestyleProvider, MockLifestyleProvider
from realtime.fanout import Fanout
from realtime.presence import Presence
from settings import Settings

if TYPE_CHECKING:
    from realtime.badges import BadgeCounter
    from realtime.sending import Sender  # it publishes through realtime/outbox.py, which needs this module
    from realtime.token_watch import TokenWatch


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]  # units of work that write: `async with res.db.begin()`
    fanout: Fanout
    passwords: Passwords
    presence: Presence
    read: async_sessionmaker[AsyncSession]  # reads only: `async with res.read() as session`
    sends: Sender  # every message send, batched: `actions.send_message`
    badges: BadgeCounter  # every socket's badge recount, batched
    tokens: TokenWatch  # the tokens this process's sockets hold, rechecked now and then
    # The mock until a real provider (air quality, maps, places) is configured.
    lifestyle: LifestyleProvider = field(default_factory=MockLifestyleProvider)


def resources(connection: HTTPConnection) -> Resources:
    """The shared resources, for a request or a WebSocket alike."""
    return connection.state.resources  # type: ignore[no-any-return]
