"""The send batch's statements through SQLAlchemy's execute against the same statements on the driver's cursor.

    python bench/statements.py                     # MariaDB, database homer_bench
    python bench/statements.py --database-url sqlite+aiosqlite:///bench.db --transactions 500

Each transaction is what one lone send costs (`persistence/sends.py`): lock
the chat, look up the client_id, UPDATE the chat, INSERT the message, COMMIT;
then what a badge recount costs (`chats.badge_counts_many`). Both run on one
held connection, as in the server, first through `AsyncConnection.execute`
(the baseline) and then through `persistence/lean.py`'s `Driver`, with the
same Core statements and parameters. Prints wall-time p50/p99 and CPU per
transaction, and each as a ratio to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homer_setup import a_listing  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection  # noqa: E402

from persistence import chats, sends  # noqa: E402
from persistence.engine import HeldConnection, create_schema, make_sessionmaker, short_lived_engine  # noqa: E402
from persistence.lean import Driver, Lean, driver  # noqa: E402
from persistence.models import Chat, User  # noqa: E402
from persistence.types import new_id, utcnow  # noqa: E402

DEFAULT_URL = "mysql+asyncmy://root@127.0.0.1:3306/homer_bench"


class Through:
    """`Driver`'s three calls, made through `AsyncConnection.execute` instead: the baseline."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def rows(self, statement: Lean, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self._conn.execute(statement.statement, params)]

    async def run(self, statement: Lean, params: dict[str, Any]) -> None:
        await self._conn.execute(statement.statement, params)

    async def run_many(self, statement: Lean, params: list[dict[str, Any]]) -> None:
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


async def one_send(db: Driver | Through, chat_id: str, renter_id: str) -> None:
    """The statements of `sends.store_batch` for one draft, in its order."""
    rows = await db.rows(sends._lock_statement(1), {"id_0": chat_id})
    state = sends.ChatState(*rows[0])
    client_id = uuid.uuid4().hex
    await db.rows(sends._earlier_statement(1), {"sender_0": renter_id, "client_0": client_id})
    seq, now = state.last_seq + 1, utcnow()
    changed = {"id_0": chat_id, "last_seq_0": seq, "renter_read_seq_0": seq, "owner_read_seq_0": state.owner_read_seq}
    await db.run(sends._chat_update(1), changed | {"now": now})
    row = sends.Row(new_id(), chat_id, seq, renter_id, "renter", "bench", None, client_id, now)
    await db.run_many(sends._INSERT, [sends._insert_values(row)])


async def one_badge(db: Driver | Through, user_id: str) -> None:
    await db.rows(chats._badge_statement(1), {"user_0": user_id})


async def measure(
    held: HeldConnection, lean: bool, work: Callable[[Driver | Through], Awaitable[None]], count: int
) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, CPU ms) per transaction."""
    times: list[float] = []
    cpu = time.process_time()
    for _ in range(count):
        start = time.perf_counter()
        async with held.begin() as conn:
            if lean:
                async with driver(conn) as db:
                    await work(db)
            else:
                await work(Through(conn))
        times.append((time.perf_counter() - start) * 1000)
    cpu = (time.process_time() - cpu) * 1000 / count
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return cuts[49], cuts[98], cpu


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
            print(f"{name}, {count} transactions each")
            print("                        p50 ms   p99 ms   CPU ms")
            print(f"  AsyncConnection.execute {base[0]:6.3f}   {base[1]:6.3f}   {base[2]:6.3f}")
            print(f"  driver's cursor         {lean[0]:6.3f}   {lean[1]:6.3f}   {lean[2]:6.3f}")
            ratios = "   ".join(f"{mine / theirs:5.2f}x" for mine, theirs in zip(lean, base, strict=True))
            print(f"  ratio                   {ratios}")
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
