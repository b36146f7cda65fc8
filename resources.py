"""What the lifespan opens and every request and socket shares (`request.state.resources`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from auth.passwords import Passwords
from lifestyle import LifestyleProvider, MockLifestyleProvider
from realtime.fanout import Fanout
from realtime.presence import Presence
from settings import Settings


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]  # units of work that write: `async with res.db.begin()`
    fanout: Fanout
    passwords: Passwords
    presence: Presence
    read: async_sessionmaker[AsyncSession]  # reads only: `async with res.read() as session`
    # The mock until a real provider (air quality, maps, places) is configured.
    lifestyle: LifestyleProvider = field(default_factory=MockLifestyleProvider)


def resources(connection: HTTPConnection) -> Resources:
    """The shared resources, for a request or a WebSocket alike."""
    return connection.state.resources  # type: ignore[no-any-return]
