"""Fan-out of events to every server process, over `broadcaster`.

`BROADCAST_URL` picks the backend: `memory://` keeps events inside one
process (the embedded default), `redis://` shares them between processes and
hosts.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from broadcaster import Broadcast
from redis.asyncio import Redis

# A health check must answer quickly even when Redis hangs rather than refuses.
PING_TIMEOUT_SECONDS = 2.0


class Fanout:
    def __init__(self, url: str) -> None:
        self.url = url
        self.broadcast = Broadcast(url)
        self.redis: Redis | None = None
        if urlparse(url).scheme in ("redis", "rediss"):
            self.redis = Redis.from_url(
                url, socket_connect_timeout=PING_TIMEOUT_SECONDS, socket_timeout=PING_TIMEOUT_SECONDS
            )

    async def connect(self) -> None:
        await self.broadcast.connect()

    async def disconnect(self) -> None:
        await self.broadcast.disconnect()
        if self.redis is not None:
            await self.redis.aclose()

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        await self.broadcast.publish(channel, json.dumps(event, separators=(",", ":"), default=str))

    async def ping(self) -> bool:
        if self.redis is None:
            return True
        try:
            return bool(await self.redis.ping())
        except Exception:
            return False
