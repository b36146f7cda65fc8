"""The send batch's statements through SQLAlchemy's execute against the same statements on the driver's cursor.

    python bench/statements.py                     # MariaDB, database homer_bench
    python bench/statements.py --database-url sqlite+aiosqlite:///bench.db --transactions 500

Each transaction is one lone send, `sends.store_batch` with one draft: lock
the chat, look up the client_id, UPDATE the chat, INSERT the message, COMMIT;
then one badge recount, `chats.badge_counts_many`. Both run on one held
connection, as in the server, first with their statements run through
`AsyncConnection.execute` (the baseline) and then on the driver's cursor
(`persistence/lean.py`'s `Driver`, as the server runs them). Prints wall-time p50/p99 and CPU per
transaction, and each as a ratio to the baseline of the same run. On MySQL it
then compares a lone send as the server stores it, one CALL of the
`store_send_v2` procedure (`sends.store_one`), with the batch of one on the
driver's cursor (without the client_id lookup, as the server first tries it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.ext.asyncio import AsyncConnection  # noqa: E402

from bench.homer_setup import a_listing  # noqa: E402
from persistence import chats, sends  # noqa: E402
from persistence.engine import HeldConnection, create_schema, make_sessionmaker, short_lived_engine  # noqa: E402
from persistence.lean import Lean, Runner, driver  # noqa: E402
from persistence.models import Chat, User  # noqa: E402
from persistence.types import utcnow  # noqa: E402

DEFAULT_URL = "mysql+asyncmy://root@127.0.0.1:3306/homer_bench"


class Through:
    """`Driver`'s three calls, made through `AsyncConnection.execute` instead: the baseline."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def rows(self, statement: Lean, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self._conn.execute(statement.statement, params)]

    async def run(self, statement: Lean, params: Mapping[str, Any]) -> None:
        await self._conn.execute(statement.statement, params)

    async def run_many(self, statement: Lean, params: list[Mapping[str, Any]]) -> None:
        await self._conn.execute(statement.statement, params)


async def a_chat(url: str) -> tuple[str, str]:
    async with short_lived_engine(url) as engine:
        await create_schema(engine)
        async with make_sessionmaker(engine).begin() as session:
            tag = uuid.uuid4().hex
            owner, renter = (
                User(
                    email=f"bench-{kind}-{tag}@example.com",
                    phone=f"{kind[0]}{tag[:12]}",
                    full_name="Bench",
                    password_hash="x",
                    user_type=kind,
                )
                for kind in ("owner", "renter")
            )
            session.add_all([owner, renter])
            await session.flush()
            listing = a_listing(owner.id)
            session.add(listing)
            await session.flush()
            chat = Chat(property_id=listing.id, renter_id=renter.id, owner_id=owner.id)
            session.add(chat)
        return chat.id, renter.id


async def one_send(db: Runner, chat_id: str, renter_id: str, *, look_up_copies: bool = True) -> None:
    draft = sends.Draft(renter_id, chat_id, "bench", [], uuid.uuid4().hex)
    (outcome,) = await sends.store_batch(db, [draft], utcnow(), look_up_copies=look_up_copies)
    assert outcome.error is None and not outcome.duplicate


async def call_send(held: HeldConnection, chat_id: str, renter_id: str) -> None:
    outcome = await sends.store_one(held, sends.Draft(renter_id, chat_id, "bench", [], uuid.uuid4().hex), utcnow())
    assert outcome.error is None


async def timed(work: Callable[[], Awaitable[None]], count: int) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, CPU ms) per call of `work`."""
    times: list[float] = []
    cpu = time.process_time()
    for _ in range(count):
        start = time.perf_counter()
        await work()
        times.append((time.perf_counter() - start) * 1000)
    cpu = (time.process_time() - cpu) * 1000 / count
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return cuts[49], cuts[98], cpu


def print_pair(title: str, names: tuple[str, str], base: tuple[float, ...], other: tuple[float, ...]) -> None:
    print(title)
    print("                        p50 ms   p99 ms   CPU ms")
    for name, figures in zip(names, (base, other), strict=True):
        print(f"  {name:<22}  {figures[0]:6.3f}   {figures[1]:6.3f}   {figures[2]:6.3f}")
    ratios = "   ".join(f"{mine / theirs:5.2f}x" for mine, theirs in zip(other, base, strict=True))
    print(f"  ratio                   {ratios}")


async def one_badge(db: Runner, user_id: str) -> None:
    await chats.badge_counts_many(db, [user_id])


async def measure(
    held: HeldConnection, lean: bool, work: Callable[[Runner], Awaitable[None]], count: int
) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, CPU ms) per transaction."""

    async def transaction() -> None:
        async with held.begin() as conn:
            if lean:
                async with driver(conn) as db:
                    await work(db)
            else:
                await work(Through(conn))

    return await timed(transaction, count)


async def run(url: str, count: int) -> None:
    chat_id, renter_id = await a_chat(url)
    async with short_lived_engine(url) as engine:
        held = HeldConnection(engine)
        for name, work in (
            ("send batch of one", lambda db: one_send(db, chat_id, renter_id)),
            ("badge recount", lambda db: one_badge(db, renter_id)),
        ):
            await measure(held, False, work, 50)  # warm the statement caches of both paths
            await measure(held, True, work, 50)
            base = await measure(held, False, work, count)
            lean = await measure(held, True, work, count)
            names = ("AsyncConnection.execute", "driver's cursor")
            print_pair(f"{name}, {count} transactions each", names, base, lean)
        if engine.dialect.name == "mysql":
            batch = await measure(held, True, lambda db: one_send(db, chat_id, renter_id, look_up_copies=False), count)
            call = await timed(lambda: call_send(held, chat_id, renter_id), count)
            names = ("batch of one", "store_send_v2 call")
            print_pair(f"lone send as the server stores it, {count} each", names, batch, call)
        await held.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--transactions", type=int, default=2000)
    args = parser.parse_args(argv)
    asyncio.run(run(args.database_url, args.transactions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
