"""Chat actions shared by REST and WebSocket: the same rules and the same events either way."""

from __future__ import annotations

from typing import Any

from http_api.schemas.chats import MessageOut
from notifications import notify, shortened
from persistence import chats, messages
from persistence.models import Chat, Message, User
from persistence.sends import Draft
from persistence.types import utcnow
from realtime.outbox import RECHECK_PRESENCE_TYPE, Outbox, committed, publish
from realtime.presence import Check, Version
from realtime.sending import Sent, message_events
from resources import Resources

PREVIEW_CHARS = 140


async def send_message(
    res: Resources, sender_id: str, chat_id: str, text: str, attachments: list[Any], client_id: str | None
) -> Sent:
    """Store a message, then deliver it to every socket of both participants.

    Goes through the process's send batcher (realtime/sending.py), which
    shares one transaction among concurrent sends. A retry with the same
    client_id stores nothing and returns the first copy, also when the first
    and the retry race each other.
    """
    return await res.sends.send(Draft(sender_id, chat_id, text, attachments, client_id))


async def mark_read(res: Resources, reader_id: str, chat_id: str, up_to_seq: int | None) -> tuple[int, int]:
    """Mark the counterpart's messages read; returns (read seq, the reader's unread count in this chat).

    In a blocked chat only the reader's own read state moves: the counterpart
    hears nothing, and the unread totals leave blocked chats out, so no badge.
    """
    async with committed(res) as (session, outbox):
        chat = await chats.chat_for_member(session, chat_id, reader_id, lock=True)
        await _mark_read(session, outbox, chat, reader_id, up_to_seq)
    return chats.read_seq(chat, reader_id), chats.unread_in(chat, reader_id)


async def open_and_read(
    res: Resources, reader_id: str, chat_id: str, limit: int
) -> tuple[chats.Listed, list[Message], bool]:
    """Mark the counterpart's messages read and read the chat's newest page, in one transaction.

    Under the chat's lock, so the page holds no message newer than the mark: read apart, a message
    committed in between was shown to the reader as unread, and the badge went on counting it.
    """
    async with committed(res) as (session, outbox):
        chat = await chats.chat_for_member(session, chat_id, reader_id, lock=True)
        await _mark_read(session, outbox, chat, reader_id, None)
        listed = await chats.describe(session, chat, reader_id)
        page, has_more = await messages.history(session, chat.id, before_seq=None, after_seq=None, limit=limit)
    return listed, page, has_more


async def _mark_read(session: Any, outbox: Outbox, chat: Chat, reader_id: str, up_to_seq: int | None) -> None:
    moved = await chats.mark_read(session, chat, reader_id, up_to_seq)
    if moved is not None and chat.status != "blocked":
        receipt = {"type": "read", "chat_id": chat.id, "reader_id": reader_id, "up_to_seq": moved}
        outbox.add([chats.counterpart_id(chat, reader_id)], receipt)
        outbox.badge(reader_id)


async def open_chat(
    res: Resources, opener: User, property_id: str, text: str, *, renter_id: str | None = None
) -> chats.Opened:
    """Open (or find) a chat, by a renter or, with `renter_id`, by the property's owner.

    A new chat stores the first message and notifies the other side. An
    existing one is returned without storing `text`, so a double-click opens
    one chat with one message; if the opener had archived it, it comes back
    to their list, since opening it again says they want it.
    """
    now = utcnow()
    async with committed(res) as (session, outbox):
        if renter_id is None:
            opened = await chats.open_as_renter(session, opener, property_id, now)
        else:
            opened = await chats.open_as_owner(session, opener, renter_id, property_id, now)
        chat = opened.chat
        if opened.created:
            stored = await messages.store_message(session, chat, opener.id, text, [], None, now)
            first = MessageOut.of(stored.message, chat).model_dump(mode="json")
            message_events(outbox, chat, opener.id, first, receipt=False)
            await notify_new_chat(session, outbox, chat, opener, text)
        elif chats.archived_by(chat, opener.id):
            await chats.unarchive(session, chat, opener.id)
    if opened.created:
        await show_presence(res, opened.chat, online=True)
    return opened


async def notify_new_chat(session: Any, outbox: Outbox, chat: Any, opener: User, text: str) -> None:
    listed = await chats.describe(session, chat, opener.id)
    recipient = chats.counterpart_id(chat, opener.id)
    preview = shortened(text, PREVIEW_CHARS)
    await notify(
        session,
        outbox,
        recipient,
        type="new_chat",
        title=f"{opener.full_name} messaged you about {listed.property_title}",
        message=preview,
        action_url=f"/chats/{chat.id}",
    )


async def announce_presence(res: Resources, user_id: str, online: bool, still: Check) -> None:
    """Tell everyone who shares an unblocked chat with the user that they came online or went offline.

    Nothing is published when `still()` says that no longer holds: the user came back or left again,
    and a later announcement says so (realtime/presence.py). What it gives is the event's version, by
    which sockets drop an older announcement that reaches them after a newer one. It is stamped before
    the chats are read: a block committed after the stamp is announced with a newer version
    (`show_presence`), and one committed before it is seen by the read, which then leaves the blocker out.
    """
    version = await still()
    if version is None:
        return
    async with res.read() as session:
        others = await chats.counterpart_ids(session, user_id)
    outbox = Outbox()
    outbox.add(others, presence_event(user_id, online, version))
    await publish(res.fanout, outbox)


async def show_presence(res: Resources, chat: Chat, *, online: bool) -> None:
    """After the pair began or stopped sharing an unblocked chat: each side online is told to the other.

    `online`: a new chat made them counterparts, and until now neither heard of the other's presence
    (`chats.counterpart_ids`), so each would show the other offline until it reconnected; sockets
    drop the announcement when they already show that user online (another chat of the pair).
    Otherwise a block left them sharing no other chat, and each side online goes offline for the
    other. Its version is that of the lookup, so an announcement made before it and published after
    is dropped. When Redis failed the lookup, `found` is this process's sockets alone: what it has passes
    always, and both sides' sockets are asked to read their counterparts' presence again a little later.
    """
    outbox = Outbox()
    pair = [chat.renter_id, chat.owner_id]
    found, version = await res.presence.snapshot(pair, announcing=True)
    for user_id in found:
        outbox.add([chats.counterpart_id(chat, user_id)], presence_event(user_id, online, version))
    if version is None:
        outbox.add(pair, {"type": RECHECK_PRESENCE_TYPE})
    await publish(res.fanout, outbox)


def presence_event(user_id: str, online: bool, version: Version | None) -> dict[str, Any]:
    """`version` is for the sockets (realtime/delivery.py), which send the frame without it; None passes always."""
    return {"type": "presence", "user_id": user_id, "online": online, "version": version and list(version)}
