"""The notification object, shared by REST answers and `notification` frames."""

from __future__ import annotations

from datetime import datetime

from http_api.schemas.common import Output, Page, PageQuery
from persistence.models import Notification


class NotificationOut(Output):
    notification_id: str
    user_id: str
    type: str
    title: str
    message: str
    action_url: str | None
    is_read: bool
    created_at: datetime

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(
            notification_id=n.id,
            user_id=n.user_id,
            type=n.type,
            title=n.title,
            message=n.message,
            action_url=n.action_url,
            is_read=n.is_read,
            created_at=n.created_at,
        )


class NotificationQuery(PageQuery):
    unread_only: bool = False


class NotificationPage(Page):
    notifications: list[NotificationOut]
    unread_count: int


class UnreadCount(Output):
    unread_count: int


class ReadAllOut(Output):
    updated: int
