"""Homer's side of bench/fanout.py: renter-owner pairs with a chat each, and the long-chat send cost."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from websockets.asyncio.client import ClientConnection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from persistence.models import Chat, Property, messages_table  # noqa: E402
from persistence.types import utcnow  # noqa: E402
from tests.live import Server, call, next_frame, open_socket, register, run_sql  # noqa: E402

DATABASE_URL = "mysql+asyncmy://root@127.0.0.1:3306/homer_bench"
SEND_SOCKETS = 8  # the long-chat test rotates sends over this many sockets to stay under the per-socket limit
SOCKET_GAP = 1 / 15  # seconds between two sends of one socket: under Homer's 20 a second with room for jitter


def a_listing(owner_id: str) -> Property:
    """The listing every benchmark chat is about."""
    return Property(
        owner_id=owner_id,
        title="2BHK near the metro",
        property_type="apartment",
        bhk_type="2BHK",
        rent=Decimal(30000),
        city="Bengaluru",
        locality="Indiranagar",
    )


CONCURRENT_REQUESTS = 20  # the set-up's requests in flight at once


async def users(servers: list[Server], kind: str, count: int) -> list[dict[str, Any]]:
    """`count` new users of `kind`, registered alternately on the two servers."""
    limit = asyncio.Semaphore(CONCURRENT_REQUESTS)

    async def user(i: int) -> dict[str, Any]:
        async with limit:
            return await register(servers[i % 2], kind)

    return list(await asyncio.gather(*(user(i) for i in range(count))))


async def homer_pairs(servers: list[Server], count: int) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    owners = await users(servers, "owner", count)
    renters = await users(servers, "renter", count)
    limit = asyncio.Semaphore(CONCURRENT_REQUESTS)
    properties = [a_listing(owner["user_id"]) for owner in owners]
    await run_sql(DATABASE_URL, lambda session: session.add_all(properties))
    ids = [prop.id for prop in properties]

    async def initiate(i: int) -> str:
        async with limit:
            body = {"property_id": ids[i], "initial_message": "Hi"}
            r = await call(servers[i % 2], "POST", "/api/chats/initiate", renters[i]["token"], json=body)
        assert r.status_code == 200, r.text
        return str(r.json()["chat_id"])

    chats = await asyncio.gather(*(initiate(i) for i in range(count)))
    return list(zip(renters, owners, chats, strict=True))


async def idle_tokens(servers: list[Server], count: int) -> list[str]:
    """Tokens of `count` new renters, one per idle socket: each socket is its own user, as in production."""
    return [str(user["token"]) for user in await users(servers, "renter", count)]


async def homer_socket(server: Server, token: str) -> ClientConnection:
    ws = await open_socket(server, token, max_queue=None)
    await next_frame(ws, "hello", timeout=60)
    return ws


async def seed(chat_id: str, sender_id: str, total: int) -> None:
    """Fill a chat (already holding seq 1) up to `total` messages, straight into the tables."""

    async def work(session: Any) -> None:
        now = utcnow()
        for first in range(2, total + 1, 2000):
            rows = [
                {
                    "id": str(uuid.uuid4()),
                    "chat_id": chat_id,
                    "seq": seq,
                    "sender_id": sender_id,
                    "sender_type": "renter",
                    "body": f"seeded message {seq}",
                    "attachments": None,
                    "client_id": None,
                    "created_at": now - timedelta(seconds=total - seq),
                }
                for seq in range(first, min(first + 2000, total + 1))
            ]
            await session.execute(insert(messages_table), rows)
        values = {"last_seq": total, "renter_read_seq": total}
        await session.execute(update(Chat).where(Chat.id == chat_id).values(**values))

    await run_sql(DATABASE_URL, work)


async def send_cost(servers: list[Server], sends: int) -> tuple[float, float]:
    """Median ms of an acked send in a chat of 10,000 messages and in one of 10, interleaved."""
    (long_renter, _, long_chat), (short_renter, _, short_chat) = await homer_pairs(servers, 2)
    await seed(long_chat, long_renter["user_id"], 10_000)
    await seed(short_chat, short_renter["user_id"], 10)
    sockets = {
        chat: [await homer_socket(servers[i % 2], user["token"]) for i in range(SEND_SOCKETS)]
        for chat, user in ((long_chat, long_renter), (short_chat, short_renter))
    }
    timings: dict[str, list[float]] = {long_chat: [], short_chat: []}
    last_sent: dict[ClientConnection, float] = {}
    try:
        for i in range(sends + 20):
            for chat, pool in sockets.items():
                ws = pool[i % SEND_SOCKETS]
                await asyncio.sleep(max(0.0, last_sent.get(ws, 0.0) + SOCKET_GAP - time.perf_counter()))
                start = last_sent[ws] = time.perf_counter()
                frame = {"type": "send", "chat_id": chat, "message": "x", "client_id": uuid.uuid4().hex}
                await ws.send(json.dumps(frame))
                while (answer := await next_frame(ws))["type"] != "ack":
                    if answer["type"] == "error":  # a refused send would otherwise wait out next_frame's timeout
                        raise RuntimeError(f"a long-chat send was refused: {answer}")
                if i >= 20:  # the first sends warm the pools and caches
                    timings[chat].append((time.perf_counter() - start) * 1000)
    finally:
        await asyncio.gather(*(ws.close() for pool in sockets.values() for ws in pool), return_exceptions=True)
    return statistics.median(timings[long_chat]), statistics.median(timings[short_chat])
