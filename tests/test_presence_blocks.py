"""A presence announcement racing a block: it never tells the blocker that the other side is online.

`announce_presence` is what a process's presence runs when a user comes
online or goes offline; its `still` callback stamps the announcement's
version (realtime/presence.py). Here `still` blocks the chat first, through
the app's REST API, so the block lands between the announcement's start and
its stamp: the announcement must then either leave the blocker out or carry
a version older than the block's own offline, which sockets drop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from auth.passwords import Passwords
from persistence.engine import make_read_sessionmaker, make_sessionmaker, short_lived_engine
from realtime.actions import announce_presence
from realtime.badges import BadgeCounter
from realtime.fanout import Fanout
from realtime.outbox import user_channel
from realtime.presence import Presence, Version
from realtime.sending import Sender
from realtime.token_watch import TokenWatch
from resources import Resources
from settings import Settings
from tests.conftest import MakeProperty, Register, bearer, open_chat

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def announcer(client: httpx.AsyncClient, settings: Settings) -> AsyncIterator[Resources]:
    """Resources of a process of our own on the app's database: its fan-out is the one the test hears."""
    async with short_lived_engine(settings.database_url) as engine:
        fanout = Fanout("memory://")
        await fanout.connect()
        read = make_read_sessionmaker(engine)
        try:
            yield Resources(
                settings,
                engine,
                make_sessionmaker(engine),
                fanout,
                Passwords(settings.bcrypt_rounds),
                Presence(None),
                read,
                Sender(engine, fanout),
                BadgeCounter(engine),
                TokenWatch(read, settings.ws_token_recheck_seconds),
            )
        finally:
            await fanout.disconnect()


async def test_an_online_announcement_whose_stamp_follows_a_block_does_not_reach_the_blocker(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, announcer: Resources
) -> None:
    owner, renter = await register(user_type="owner"), await register()
    chat_id = await open_chat(client, renter, await make_property(owner))
    blocked_at: list[Version | None] = []

    async def still() -> Version | None:
        r = await client.post(f"/api/chats/{chat_id}/block", headers=bearer(owner["token"]))
        assert r.status_code == 200, r.text
        _, block = await announcer.presence.snapshot([], announcing=True)  # as the block's own offline is
        blocked_at.append(block)
        _, version = await announcer.presence.snapshot([], announcing=True)
        return version

    async with announcer.fanout.subscribe(user_channel(owner["user_id"]), maxsize=10) as heard:
        await announce_presence(announcer, renter["user_id"], True, still)
        await announcer.fanout.flushed()
        events: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):  # until nothing more arrives for half a second
            while True:
                events.append(await asyncio.wait_for(heard.get(), 0.5))
    assert blocked_at and blocked_at[0] is not None, "the announcement never checked"
    block = blocked_at[0]
    late = [e for e in events if e["type"] == "presence" and tuple(e["version"]) > block]
    assert late == [], f"the blocker heard an online stamped after the block: {late}"
