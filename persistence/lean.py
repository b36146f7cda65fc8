"""Prebuilt Core statements run on the driver's own cursor, inside a SQLAlchemy transaction.

For the statements that every chat message runs: the send batch
(`sends.py`) and the badge recount (`chats.badge_counts_many`). Through
`AsyncConnection.execute` each statement pays for an execution context, the
async cursor adapter, a greenlet switch and a result object. A send batch of
four statements and a commit took about 0.95 ms of CPU that way on MariaDB,
against 0.54 ms with the same statements on the driver's cursor in the same
transaction (`bench/statements.py`, figures in `bench/README.md`).

So a `Lean` statement is compiled once per dialect, by SQLAlchemy, with its
columns' bind and result processors (JSON, UTC datetimes), and `Driver` runs
it with positional parameters on one cursor of the transaction's connection.
The transaction, the pool and the connection stay SQLAlchemy's. A driver
error is raised as SQLAlchemy raises it (`IntegrityError`,
`OperationalError`, ...); when the driver lost the connection, the error says
`connection_invalidated` and the connection is invalidated, as with any other
statement.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # bind names in the order of the placeholders
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]
    fixed: dict[str, Any]  # values written into the statement (literals such as `status == 'archived'`)

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        if self.fixed:
            params = {**self.fixed, **params}
        return tuple(params[n] if p is None else p(params[n]) for n, p in zip(self.names, self.binds, strict=True))

    def row(self, values: Iterable[Any]) -> tuple[Any, ...]:
        return tuple(v if p is None else p(v) for v, p in zip(values, self.results, strict=True))


class Lean:
    """A Core statement for `Driver`: compiled on first use for each dialect, then reused."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return found


def _compile(statement: Any, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    if compiled.post_compile_params:
        raise ValueError("a Lean statement cannot use expanding IN: give each value its own bindparam")
    names = tuple(compiled.positiontup or ())
    binds = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    columns = getattr(statement, "selected_columns", ())
    results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
    fixed = {name: bind.effective_value for name, bind in compiled.binds.items() if bind.value is not None}
    return _Compiled(str(compiled), names, binds, results, fixed)


class Runner(Protocol):
    """What runs `Lean` statements: `Driver`, or anything with the same three calls (bench/statements.py)."""

    async def rows(self, statement: Lean, params: Mapping[str, Any]) -> list[tuple[Any, ...]]: ...

    async def run(self, statement: Lean, params: Mapping[str, Any]) -> None: ...

    async def run_many(self, statement: Lean, params: list[Mapping[str, Any]]) -> None: ...


class Driver:
    """One driver cursor of a transaction's connection: `rows`, `run` and `run_many` for `Lean` statements."""

    def __init__(self, conn: AsyncConnection, cursor: Any) -> None:
        self._conn = conn
        self._cursor = cursor

    @classmethod
    async def open(cls, conn: AsyncConnection) -> Driver:
        """A new cursor on `conn`'s driver connection; `close` it when done."""
        raw = await conn.get_raw_connection()
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        if inspect.isawaitable(cursor):  # aiosqlite's cursor() is a coroutine, asyncmy's is not
            cursor = await cursor
        return cls(conn, cursor)

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # a cursor of a lost connection has nothing left to close
            await self._cursor.close()

    async def rows(self, statement: Lean, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        compiled = statement.compiled(self._conn.dialect)
        found = await self._call(compiled.sql, compiled.args(params), fetch=True)
        return [compiled.row(values) for values in found]

    async def run(self, statement: Lean, params: Mapping[str, Any]) -> None:
        compiled = statement.compiled(self._conn.dialect)
        await self._call(compiled.sql, compiled.args(params))

    async def run_many(self, statement: Lean, params: list[Mapping[str, Any]]) -> None:
        """One statement for many rows (on MySQL the driver sends a multi-row INSERT)."""
        compiled = statement.compiled(self._conn.dialect)
        await self._call(compiled.sql, [compiled.args(p) for p in params], many=True)

    async def call(self, statement: Lean, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """A stored procedure's result rows. A MySQL CALL also answers with its own status, read here too."""
        compiled = statement.compiled(self._conn.dialect)
        found = await self._call(compiled.sql, compiled.args(params), fetch=True, drain=True)
        return [compiled.row(values) for values in found]

    async def _call(
        self, sql: str, args: Any, *, fetch: bool = False, many: bool = False, drain: bool = False
    ) -> list[Any]:
        try:
            if many:
                await self._cursor.executemany(sql, args)
            else:
                await self._cursor.execute(sql, args)
            found = list(await self._cursor.fetchall()) if fetch else []
            while drain and await self._cursor.nextset():
                pass
            return found
        except Exception as exc:
            raise await self._translated(exc, sql, args) from exc

    async def _translated(self, exc: Exception, sql: str, args: Any) -> BaseException:
        """The error as `AsyncConnection.execute` would have raised it; a lost connection is invalidated."""
        dialect = self._conn.dialect
        base = dialect.loaded_dbapi.Error
        if isinstance(exc, base):
            gone = dialect.is_disconnect(exc, None, self._cursor)
            translated: BaseException = DBAPIError.instance(
                sql, args, exc, base, connection_invalidated=gone, dialect=dialect
            )
        elif isinstance(exc, (OSError, EOFError)):
            # The socket broke under the driver (asyncmy raises these as they are).
            gone, translated = True, OperationalError(sql, args, exc, connection_invalidated=True)
        else:
            return exc  # a bug, not the database's answer
        if gone:
            with contextlib.suppress(Exception):
                await self._conn.invalidate(exc)
        return translated


@asynccontextmanager
async def driver(conn: AsyncConnection) -> AsyncIterator[Driver]:
    """A `Driver` on the connection of `conn`'s current transaction; its cursor is closed after the block."""
    db = await Driver.open(conn)
    try:
        yield db
    finally:
        await db.close()
