"""Notifications: stored first, then pushed live to every socket of the user.

`notify()` is the one entry point for every source (a new chat, a verification
decision, a payment, a shortlist): it adds the row to the caller's unit of work
and the `notification` and `badge` events to its outbox, so both reach the user
only if that work commits. Title and message are cut to their columns' lengths.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from http_api.schemas.notifications import NotificationOut
from persistence.models import Notification, notifications_table
from persistence.types import utcnow
from realtime.outbox import Outbox


async def notify(
    session: AsyncSession,
    outbox: Outbox,
    user_id: str,
    *,
    type: str,
    title: str,
    message: str,
    action_url: str | None = None,
) -> Notification:
    columns = notifications_table.c
    notification = Notification(
        user_id=user_id,
        type=type,
        title=clipped(title, columns.title),
        message=clipped(message, columns.message),
        action_url=action_url,
        created_at=utcnow(),
    )
    session.add(notification)
    await session.flush()
    payload = NotificationOut.of(notification).model_dump(mode="json")
    outbox.add([user_id], {"type": "notification", "notification": payload})
    outbox.badge(user_id)
    return notification


def clipped(text: str, column: ColumnElement[Any]) -> str:
    """`text` cut to fit the column, ending in "…" if cut.

    Titles quote user input (names, listing titles) that can together exceed
    the column; MariaDB in strict mode refuses the row, failing the whole action.
    """
    limit: int | None = getattr(column.type, "length", None)
    return text if limit is None else shortened(text, limit)


def shortened(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else its start and "…" in `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
