"""The async engine, its session factories, and creating the schema.

SQLite (the embedded default) and MariaDB/MySQL (production) are both first
class. Two session factories: `make_sessionmaker` for units of work that
write, `make_read_sessionmaker` for reads. On SQLite a writing transaction
starts with `BEGIN IMMEDIATE`, so writers queue on the busy timeout instead of
failing with "database is locked" when a read transaction tries to become a
write one; reads start with a plain `BEGIN` and, thanks to WAL, never wait for
writers. On MySQL both factories are the same.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from persistence.geo import register_sqlite_functions
from persistence.lean import Driver
from persistence.models import Base
from persistence.words import backfill

SCHEMA_SQL = Path(__file__).resolve().parent.parent / "schema.sql"

# Below MariaDB's default wait_timeout (8 h) with a wide margin: a pooled
# connection is replaced before the server drops it. pool_pre_ping catches the
# connections that die sooner (a restarted server, a proxy's idle timeout);
# asyncmy >= 0.2.15 raises OperationalError for them, not RuntimeError (#158).
MYSQL_POOL_RECYCLE_SECONDS = 1800
# How long any one answer of MariaDB may take before its connection is taken for dead. A connection that
# goes silent without a reset (a NAT or firewall that forgot it, a failover, a hung server) otherwise
# holds its caller until the kernel gives up, about 15 minutes: for the send batcher, every send of the
# process. Ten seconds is far above any statement of ours; a lock wait that long fails its request, as
# a timeout would anyway. `?read_timeout=N` in DATABASE_URL sets another.
MYSQL_READ_TIMEOUT_SECONDS = 10
# For the TCP connection alone (the driver's default is 10); `?connect_timeout=N` sets another.
MYSQL_CONNECT_TIMEOUT_SECONDS = 5
SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "homer_read_only"
# What earlier versions created for word search on SQLite, before `property_words`.
RETIRED_SQLITE = [
    *(f"DROP TRIGGER IF EXISTS properties_fts_{event}" for event in ("insert", "update", "delete")),
    "DROP TABLE IF EXISTS properties_fts",
]


def make_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "mysql":
        timeouts = {"read_timeout": MYSQL_READ_TIMEOUT_SECONDS, "connect_timeout": MYSQL_CONNECT_TIMEOUT_SECONDS}
        # Only what the URL leaves out: connect_args would override it.
        connect_args = {"charset": "utf8mb4"} | {k: v for k, v in timeouts.items() if k not in parsed.query}
        return create_async_engine(
            url,
            pool_size=10,
            max_overflow=20,
            pool_timeout=15,
            pool_recycle=MYSQL_POOL_RECYCLE_SECONDS,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
    raise ValueError(f"unsupported DATABASE_URL backend {backend!r}; use sqlite+aiosqlite or mysql+asyncmy")


def _sqlite_engine(url: str) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()
        register_sqlite_functions(dbapi_connection)

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reading only: on SQLite they never take the write lock."""
    return async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def autocommit_reads(engine: AsyncEngine) -> AsyncEngine:
    """For `HeldConnection.outside_transactions`: reads that each see every commit before them, with no COMMIT.

    On MySQL the connection is put in autocommit. SQLite's connections already
    are, outside the BEGINs of `_sqlite_engine`.
    """
    engine = engine.execution_options(**{READ_ONLY: True})
    return engine.execution_options(isolation_level="AUTOCOMMIT") if engine.dialect.name == "mysql" else engine


@asynccontextmanager
async def short_lived_engine(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine for one piece of work outside the app (scripts, tests, benchmarks), disposed after it."""
    engine = make_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


class HeldConnection:
    """One connection kept by a busy background task, instead of a checkout for each transaction.

    A checkout from the pool costs two round trips on MySQL, the pre-ping
    before and the rollback that resets the connection after, about as many as
    the send batch's own statements. A held connection skips both while it is
    busy. Once idle for `idle_seconds`, or after any error, it goes back to the
    pool, and the next transaction checks a connection out (and pings it)
    again, so a restarted server costs at most the transaction that found it.

    `lean` runs `Driver` statements on one driver cursor kept as long as the
    connection: a cursor opened and closed for each store cost about as much
    of the client's CPU as the store's CALL itself.

    A connection that cannot be had raises `Unreachable`; one found dropped
    raises the statement's error with `connection_invalidated` set
    (`connection_lost` tells both).
    """

    def __init__(self, engine: AsyncEngine, idle_seconds: float = 30.0) -> None:
        self._engine = engine
        self._idle_seconds = idle_seconds
        self._connection: AsyncConnection | None = None
        self._driver: Driver | None = None
        self._used = 0.0

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction on the held connection, committed when the block ends without an error."""
        async with self._held() as connection, connection.begin():
            yield connection

    @asynccontextmanager
    async def outside_transactions(self) -> AsyncIterator[AsyncConnection]:
        """The held connection with no transaction begun: for `autocommit_reads` engines, and for a stored
        procedure that commits its own (`sends.store_one`), where SQLAlchemy's would add a COMMIT round trip."""
        async with self._held() as connection:
            yield connection

    @asynccontextmanager
    async def lean(self, *, transaction: bool = True) -> AsyncIterator[Driver]:
        """The kept `Driver`, in a transaction as `begin`'s, or with `transaction=False` as `outside_transactions`."""
        async with self.begin() if transaction else self.outside_transactions() as connection:
            if self._driver is None:
                self._driver = await Driver.open(connection)
            yield self._driver

    @asynccontextmanager
    async def _held(self) -> AsyncIterator[AsyncConnection]:
        now = time.monotonic()
        if self._connection is not None and now - self._used > self._idle_seconds:
            await self.close()
        if self._connection is None:
            try:
                self._connection = await self._engine.connect()
            except (DBAPIError, PoolTimeout) as exc:  # no connection, or none free in the pool's wait
                raise Unreachable(None, None, getattr(exc, "orig", None) or exc) from exc
        try:
            yield self._connection
        except Exception:
            await self.close()
            raise
        except BaseException:  # cancelled mid-statement: the connection's state is unknown
            await self.close(discard=True)
            raise
        finally:
            self._used = time.monotonic()

    async def close(self, *, discard: bool = False) -> None:
        """Give the connection back to the pool, or with `discard` close it with no round trip.

        Giving back costs a ROLLBACK, which a connection that went silent answers only after its read
        timeout: when stopping, or after a cancellation, the connection is discarded instead.
        """
        kept, self._driver = self._driver, None
        connection, self._connection = self._connection, None
        if connection is not None and discard:
            with contextlib.suppress(Exception):  # already invalidated, or already closed
                await connection.invalidate()
        if kept is not None:  # after invalidating: the cursor's close reads what is left of its results
            await kept.close()
        if connection is not None:
            with contextlib.suppress(Exception):  # a broken connection is discarded by the pool
                await connection.close()


class Unreachable(OperationalError):
    """No connection to the database could be had: refused, timed out, login refused, or none free in the
    pool within its wait. `orig` is the driver's error, or the pool's."""


# MySQL errors that mean no connection and that SQLAlchemy does not count as a disconnect (those come with
# `connection_invalidated`): too many connections (1040), server shutting down (1053), cannot connect
# (2002, 2003, 2005).
NO_CONNECTION_CODES = frozenset({1040, 1053, 2002, 2003, 2005})


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached, dropped the connection or had none free, rather
    than refused a statement: the work may be tried again on a fresh connection, and while that fails so
    will the rest."""
    if isinstance(exc, Unreachable | PoolTimeout) or getattr(exc, "connection_invalidated", False):
        return True
    args: tuple[object, ...] = getattr(getattr(exc, "orig", None), "args", ())
    return isinstance(exc, DBAPIError) and bool(args) and args[0] in NO_CONNECTION_CODES


async def create_schema(engine: AsyncEngine) -> None:
    """Create missing tables: from the models on SQLite, from `schema.sql` on MySQL; index listings' words if new.

    `schema.sql` uses CREATE TABLE IF NOT EXISTS, so several workers starting at
    once on one database do not race each other.
    """
    async with engine.begin() as connection:
        if engine.dialect.name == "mysql":
            # IF NOT EXISTS answers each existing table with a note, which asyncmy logs as a warning.
            await connection.execute(text("SET SESSION sql_notes = 0"))
            for statement in schema_statements():
                await connection.execute(text(statement))
            await connection.execute(text("SET SESSION sql_notes = 1"))
        else:
            await connection.run_sync(Base.metadata.create_all)
            for statement in RETIRED_SQLITE:
                await connection.execute(text(statement))
        await connection.run_sync(backfill)


def schema_statements(path: Path = SCHEMA_SQL) -> list[str]:
    """The file's statements as the `mysql` client splits them: at `;`, or at what `DELIMITER` set instead."""
    statements, lines, delimiter = [], [], ";"
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"\s*--", line) or not line.strip():
            continue
        if re.match(r"\s*DELIMITER\s", line, flags=re.IGNORECASE):
            delimiter = line.split()[1]
            continue
        lines.append(line)
        if line.rstrip().endswith(delimiter):
            statement = "\n".join(lines).rstrip()[: -len(delimiter)].strip()
            statements.append(statement)
            lines = []
    if "\n".join(lines).strip():
        raise ValueError(f"{path.name} ends inside a statement: {lines[0]!r}")
    return statements


async def ping(engine: AsyncEngine) -> bool:
    try:
        # Read only: on SQLite a probe must not queue for the write lock behind a slow writer.
        async with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
