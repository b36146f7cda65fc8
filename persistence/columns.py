"""Column types and column shapes the tables share (`models.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from persistence.types import UTCDateTime, new_id, utcnow

Money = Numeric(12, 2)


def Caseless(length: int) -> String:  # noqa: N802 - reads as a column type
    """Text compared without regard to case on both backends, so `city = 'pune'` finds 'Pune' through its index.

    MariaDB's utf8mb4_unicode_ci already does this; SQLite needs the column declared NOCASE.
    """
    return String(length).with_variant(String(length, collation="NOCASE"), "sqlite")  # type: ignore[return-value]


def id_column(make: Callable[[], str] = new_id) -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=make)


def user_fk(*, nullable: bool = False, ondelete: str | None = "CASCADE") -> Mapped[Any]:
    return mapped_column(String(36), ForeignKey("users.id", ondelete=ondelete), nullable=nullable)


def created_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)
