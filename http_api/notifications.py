"""Notifications over REST (`/api/notifications`); every change pushes a `badge`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from http_api.endpoint import Auth, endpoint
from http_api.schemas.notifications import (
    NotificationOut,
    NotificationPage,
    NotificationQuery,
    ReadAllOut,
    UnreadCount,
)
from persistence import notifications
from realtime.outbox import committed
from resources import resources


@endpoint(query=NotificationQuery, response=NotificationPage)
async def list_notifications(request: Request, *, auth: Auth, query: NotificationQuery) -> NotificationPage:
    """The caller's notifications, newest first."""
    async with resources(request).read() as session:
        rows, total = await notifications.page(
            session, auth.user.id, unread_only=query.unread_only, offset=query.offset, limit=query.limit
        )
        unread = await notifications.unread_count(session, auth.user.id)
    return NotificationPage(
        notifications=[NotificationOut.of(n) for n in rows],
        total_count=total,
        unread_count=unread,
        page=query.page,
        has_more=query.offset + len(rows) < total,
    )


@endpoint(response=UnreadCount)
async def unread_count(request: Request, *, auth: Auth) -> UnreadCount:
    """How many of the caller's notifications are unread."""
    async with resources(request).read() as session:
        return UnreadCount(unread_count=await notifications.unread_count(session, auth.user.id))


@endpoint(response=NotificationOut, responses={403: "Someone else's notification", 404: "Unknown notification"})
async def mark_read(request: Request, *, auth: Auth) -> NotificationOut:
    """Mark one notification read."""
    async with committed(resources(request)) as (session, outbox):
        notification, changed = await notifications.mark_read(
            session, auth.user.id, request.path_params["notification_id"]
        )
        if changed:
            outbox.badge(auth.user.id)
    return NotificationOut.of(notification)


@endpoint(response=ReadAllOut)
async def read_all(request: Request, *, auth: Auth) -> ReadAllOut:
    """Mark every notification of the caller read."""
    async with committed(resources(request)) as (session, outbox):
        updated = await notifications.mark_all_read(session, auth.user.id)
        if updated:
            outbox.badge(auth.user.id)
    return ReadAllOut(updated=updated)


routes = [
    Route("/notifications", list_notifications, methods=["GET"]),
    Route("/notifications/unread-count", unread_count, methods=["GET"]),
    Route("/notifications/read-all", read_all, methods=["POST"]),
    Route("/notifications/{notification_id}/read", mark_read, methods=["POST"]),
]
