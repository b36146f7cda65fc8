"""Notifications: stored first, then pushed live to every socket of the user.

`notify()` is the one entry point for every source (a new chat, a verification
decision, a payment, a shortlist): it adds the row to the caller's unit of work
and the `notification` and `badge` events to its outbox, so both reach the user
only if that work commits.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from http_api.schemas.notifications import NotificationOut
from persistence.models import Notification
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
    notification = Notification(
        user_id=user_id, type=type, title=title, message=message, action_url=action_url, created_at=utcnow()
    )
    session.add(notification)
    await session.flush()
    payload = NotificationOut.of(notification).model_dump(mode="json")
    outbox.add([user_id], {"type": "notification", "notification": payload})
    outbox.badge(user_id)
    return notification
