"""Column types that behave the same on SQLite and MariaDB/MySQL."""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Update, update
from sqlalchemy.dialects import mysql
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator, TypeEngine


def new_id() -> str:
    return str(uuid.uuid4())


# What `new_id` and `time_ordered_id` issue, and so what every id column holds: lowercase hex and hyphens.
_ISSUED_ID = re.compile(r"[0-9a-f-]{1,36}")


def is_issued_id(value: str) -> bool:
    """Whether `value` could be an id of ours as written, not merely one that finds a row.

    MariaDB compares the id columns under a case- and accent-insensitive
    collation that ignores trailing spaces, so `ABC…` finds the row `abc…`.
    Where the id a client sent is written or used as a key (a message's
    chat_id, a socket's per-chat state), such a variant would be taken for
    a different chat; among these characters the only match is the id itself.
    """
    return _ISSUED_ID.fullmatch(value) is not None


def time_ordered_id() -> str:
    """A UUIDv7 (RFC 9562): milliseconds since the epoch, then 74 random bits.

    For the append-heavy tables (messages). InnoDB clusters rows by primary
    key, so a random uuid4 lands each insert on a random page of the table:
    once the table outgrows the buffer pool every insert reads a page, and
    every insert dirties a page the server must write back. Ids that grow with
    time append to the last page instead (bench/README.md, the eighth pass).
    As strings they sort by time under any collation: lowercase hex, fixed width.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits: 12 for rand_a, 62 for rand_b, 6 unused
    value = millis << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (both backends lack a zone-aware type) and returns aware UTC.

    MySQL's DATETIME defaults to whole seconds; `fsp=6` keeps the microseconds
    that ordering by time relies on.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# MariaDB stores JSON as LONGTEXT with a validity check; SQLAlchemy's JSON type
# reads and writes it on both backends, and its indexing compiles to
# JSON_EXTRACT on MySQL/MariaDB and json_extract on SQLite.
Json = JSON(none_as_null=True)


def quiet_update(entity: Any) -> Update:
    """An UPDATE that leaves loaded objects alone: callers set the new values themselves.

    SQL-side expressions (`n = n + 1`, CASE) cannot be evaluated in Python, and
    the ORM would otherwise expire the attributes and reload them lazily, which
    async sessions cannot do.
    """
    return update(entity).execution_options(synchronize_session=False)


def written(obj: Any, **values: Any) -> None:
    """Show on a loaded object what a quiet_update wrote, without marking it changed.

    Set plainly, the ORM would write those values again at commit from what
    this transaction read: over a concurrent commit, where no lock was held.
    """
    for key, value in values.items():
        set_committed_value(obj, key, value)
