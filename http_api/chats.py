"""Chats over REST (`/api/chats`): the same actions as the WebSocket, for clients without one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.routing import Route

from http_api.endpoint import Auth, endpoint
from http_api.schemas.chats import (
    ChatDetail,
    ChatDetailQuery,
    ChatListQuery,
    ChatOut,
    ChatPage,
    HistoryOut,
    HistoryQuery,
    InitiateIn,
    InitiateWithRenterIn,
    MessageOut,
    OpenedOut,
    ReadIn,
    ReadOut,
    SendIn,
    UnreadMessages,
)
from persistence import chats, messages
from persistence.models import Chat
from realtime import actions
from realtime.outbox import BLOCKED_TYPE, committed
from resources import resources


@endpoint(body=InitiateIn, response=OpenedOut, body_in_query=True, responses={403: "Contact limit reached", 404: ""})
async def initiate(request: Request, *, auth: Auth, body: InitiateIn) -> OpenedOut:
    """Open a chat with a property's owner (or get the existing one)."""
    opened = await actions.open_chat(resources(request), auth.user, body.property_id, body.initial_message)
    return opened_out(opened)


@endpoint(body=InitiateWithRenterIn, response=OpenedOut, body_in_query=True, responses={403: "", 404: ""})
async def initiate_with_renter(request: Request, *, auth: Auth, body: InitiateWithRenterIn) -> OpenedOut:
    """An owner opens a chat with a visible renter about one of the owner's active properties."""
    opened = await actions.open_chat(
        resources(request), auth.user, body.property_id, body.initial_message, renter_id=body.renter_id
    )
    return opened_out(opened)


def opened_out(opened: chats.Opened) -> OpenedOut:
    # The chat's own initiated_by, not the endpoint's: a chat found existing may have been opened by the other side.
    chat = opened.chat
    return OpenedOut(chat_id=chat.id, created=opened.created, initiated_by=chat.initiated_by)  # type: ignore[arg-type]


@endpoint(query=ChatListQuery, response=ChatPage)
async def list_chats(request: Request, *, auth: Auth, query: ChatListQuery) -> ChatPage:
    """The caller's active chats, newest activity first, with last message and unread count."""
    async with resources(request).read() as session:
        listed, total = await chats.list_for_user(session, auth.user.id, offset=query.offset, limit=query.limit)
        last = await messages.last_messages(session, [item.chat for item in listed])
    items = [ChatOut.of(item, auth.user.id, last.get(item.chat.id)) for item in listed]
    return ChatPage(chats=items, total_count=total, page=query.page, has_more=query.offset + len(items) < total)


@endpoint(response=UnreadMessages)
async def unread_count(request: Request, *, auth: Auth) -> UnreadMessages:
    """Messages to the caller not yet read, over all chats."""
    async with resources(request).read() as session:
        return UnreadMessages(unread_count=await chats.unread_total(session, auth.user.id))


@endpoint(query=ChatDetailQuery, response=ChatDetail, responses={403: "Not a participant", 404: "Unknown chat"})
async def get_chat(request: Request, *, auth: Auth, query: ChatDetailQuery) -> ChatDetail:
    """A chat with its latest messages; opening it marks the counterpart's messages read."""
    res, chat_id = resources(request), request.path_params["chat_id"]
    listed, page, has_more = await actions.open_and_read(res, auth.user.id, chat_id, query.limit)
    base = ChatOut.of(listed, auth.user.id, page[-1] if page else None)
    shown = [MessageOut.of(m, listed.chat) for m in page]
    return ChatDetail(**base.model_dump(), messages=shown, has_more_messages=has_more)


@endpoint(query=HistoryQuery, response=HistoryOut, responses={403: "Not a participant", 404: "Unknown chat"})
async def history(request: Request, *, auth: Auth, query: HistoryQuery) -> HistoryOut:
    """Older messages (`before_seq`) or newer ones (`after_seq`), in seq order."""
    async with resources(request).read() as session:
        chat = await chats.chat_for_member(session, request.path_params["chat_id"], auth.user.id)
        page, has_more = await messages.history(
            session, chat.id, before_seq=query.before_seq, after_seq=query.after_seq, limit=query.limit
        )
    return HistoryOut(messages=[MessageOut.of(m, chat) for m in page], has_more=has_more)


@endpoint(body=SendIn, response=MessageOut, status_code=201, body_in_query=True, responses={403: "", 404: ""})
async def send(request: Request, *, auth: Auth, body: SendIn) -> MessageOut:
    """Send a message: stored, then delivered live exactly as a WebSocket `send`."""
    attachments = [item if isinstance(item, str) else item.model_dump(exclude_none=True) for item in body.attachments]
    sent = await actions.send_message(
        resources(request), auth.user.id, request.path_params["chat_id"], body.message, attachments, body.client_id
    )
    return sent.message


@endpoint(body=ReadIn, response=ReadOut, responses={403: "", 404: ""})
async def read(request: Request, *, auth: Auth, body: ReadIn) -> ReadOut:
    """Mark the counterpart's messages read, up to `up_to_seq` (default: all)."""
    chat_id = request.path_params["chat_id"]
    up_to, unread = await actions.mark_read(resources(request), auth.user.id, chat_id, body.up_to_seq)
    return ReadOut(chat_id=chat_id, up_to_seq=up_to, unread_count=unread)


@endpoint(response=ChatOut, responses={403: "", 404: ""})
async def archive(request: Request, *, auth: Auth) -> ChatOut:
    """Archive the chat for the caller alone: it leaves their chat list until a new message arrives.

    No badge: archiving marks nothing read, and an archived chat's unread messages still count.
    """
    async with resources(request).db.begin() as session:
        chat = await chats.chat_for_member(session, request.path_params["chat_id"], auth.user.id, lock=True)
        if chat.status != "blocked":  # a block is final; an archive would only hide it
            await chats.archive(session, chat, auth.user.id)
        return await as_listed(session, chat, auth.user.id)


@endpoint(response=ChatOut, responses={403: "", 404: ""})
async def block(request: Request, *, auth: Auth) -> ChatOut:
    """Block the chat: it takes no new messages from either side."""
    res = resources(request)
    async with committed(res) as (session, outbox):
        chat = await chats.chat_for_member(session, request.path_params["chat_id"], auth.user.id, lock=True)
        blocking = chat.status != "blocked"
        if blocking:  # sockets that let typing through to this chat stop doing so
            await chats.set_status(session, chat, "blocked")
            outbox.add([chat.renter_id, chat.owner_id], {"type": BLOCKED_TYPE, "chat_id": chat.id})
        # Read in the transaction: after the commit only a presence lookup and publishing run, neither of which raises.
        apart = blocking and chat.owner_id not in await chats.counterpart_ids(session, chat.renter_id)
        outbox.badge(chat.renter_id, chat.owner_id)
        answer = await as_listed(session, chat, auth.user.id)
    if apart:
        await actions.show_presence(res, chat, online=False)
    return answer


async def as_listed(session: AsyncSession, chat: Chat, user_id: str) -> ChatOut:
    """The chat as `GET /api/chats` lists it to the user, last message included."""
    listed = await chats.describe(session, chat, user_id)
    last = (await messages.last_messages(session, [chat])).get(chat.id)
    return ChatOut.of(listed, user_id, last)


routes = [
    Route("/chats", list_chats, methods=["GET"]),
    Route("/chats/initiate", initiate, methods=["POST"]),
    Route("/chats/initiate-with-renter", initiate_with_renter, methods=["POST"]),
    Route("/chats/unread-count", unread_count, methods=["GET"]),
    Route("/chats/{chat_id}", get_chat, methods=["GET"]),
    Route("/chats/{chat_id}/messages", history, methods=["GET"]),
    Route("/chats/{chat_id}/messages", send, methods=["POST"]),
    Route("/chats/{chat_id}/read", read, methods=["POST"]),
    Route("/chats/{chat_id}/archive", archive, methods=["POST"]),
    Route("/chats/{chat_id}/block", block, methods=["POST"]),
]
