"""Chat and message shapes, shared by REST answers and WebSocket frames."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, Strict, StringConstraints, model_validator

from http_api.schemas.common import Input, Output, Page, PageQuery, QueryInput, Url
from persistence.chats import Listed, status_for, unread_in
from persistence.messages import MAX_MESSAGE_CHARS
from persistence.models import Chat, Message
from persistence.sends import ChatState, Row

ClientId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# The seq columns are INT. A client's seq past any chat's end (up to what a browser's numbers hold
# exactly) counts as the end, as a seq past this chat's end does: stale local state is no bad frame.
MAX_SEQ = 2**31 - 1
Seq = Annotated[int, Field(ge=0, le=2**53 - 1), AfterValidator(lambda seq: min(seq, MAX_SEQ))]
# A seq in a JSON body or frame is a JSON integer: `true`, `5.0` or `"5"` is refused, not read as 1 or 5.
# (Seq itself stays lax for query strings, which carry every number as text.)
JsonSeq = Annotated[Seq, Strict()]


class Attachment(Input):
    url: Url
    name: str | None = Field(default=None, max_length=255)
    content_type: str | None = Field(default=None, max_length=100)
    # A JSON integer (`true` is not 1) that a browser holds exactly.
    size: Annotated[int, Strict(), Field(ge=0, le=2**53 - 1)] | None = None


# What shows nothing on screen: white space, controls and format characters (zero-width space, BOM,
# direction marks). A message of these alone would arrive as an empty bubble.
_BLANK_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# And characters of other categories that render as nothing too: the Hangul fillers, the blank Braille
# pattern (both used to post "empty" messages), the combining grapheme joiner and the variation selectors.
_BLANK_CHARACTERS = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f\u180b\u180c\u180d\u180f"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)


def message_text(value: str) -> str:
    """1 to 4,000 characters, at least one of them visible, no NUL (kept as typed otherwise)."""
    if all(c in _BLANK_CHARACTERS or unicodedata.category(c) in _BLANK_CATEGORIES for c in value):
        raise ValueError("Message must not be empty")
    if "\x00" in value:
        raise ValueError("Message must not contain NUL characters")
    if len(value) > MAX_MESSAGE_CHARS:
        raise ValueError(f"Message must be at most {MAX_MESSAGE_CHARS} characters")
    return value


MessageText = Annotated[str, StringConstraints(strip_whitespace=False), AfterValidator(message_text)]


class SendIn(Input):
    message: MessageText
    attachments: list[Attachment | Url] = Field(default_factory=list, max_length=10)
    client_id: ClientId | None = None


class InitiateIn(Input):
    property_id: str = Field(min_length=1, max_length=36)
    initial_message: MessageText


class InitiateWithRenterIn(InitiateIn):
    renter_id: str = Field(min_length=1, max_length=36)


class ReadIn(Input):
    up_to_seq: JsonSeq | None = None


class HistoryQuery(QueryInput):
    before_seq: Seq | None = None
    after_seq: Seq | None = None
    limit: int = Field(default=50, ge=1, le=100)

    @model_validator(mode="after")
    def one_direction(self) -> HistoryQuery:
        if self.before_seq is not None and self.after_seq is not None:
            raise ValueError("Give before_seq or after_seq, not both")
        return self


class ChatDetailQuery(QueryInput):
    limit: int = Field(default=50, ge=1, le=100)


class MessageOut(Output):
    message_id: str
    chat_id: str
    seq: int
    sender_id: str
    sender_type: Literal["renter", "owner"]
    message: str
    attachments: list[Any]
    timestamp: datetime
    is_read: bool
    client_id: str | None

    @classmethod
    def of(cls, m: Message | Row, chat: Chat | ChatState) -> MessageOut:
        """From an ORM row, or from what a send batch stored (`persistence.sends`)."""
        recipient_read = chat.owner_read_seq if m.sender_type == "renter" else chat.renter_read_seq
        return cls(
            message_id=m.id,
            chat_id=m.chat_id,
            seq=m.seq,
            sender_id=m.sender_id,
            sender_type=m.sender_type,  # type: ignore[arg-type]
            message=m.body,
            attachments=m.attachments or [],
            timestamp=m.created_at,
            is_read=m.seq <= recipient_read,
            client_id=m.client_id,
        )


class Counterpart(Output):
    user_id: str
    full_name: str


class ChatOut(Output):
    chat_id: str
    property_id: str
    renter_id: str
    owner_id: str
    initiated_by: Literal["renter", "owner"]
    created_at: datetime
    last_message_at: datetime
    status: Literal["active", "archived", "blocked"]
    property_title: str
    counterpart: Counterpart
    last_seq: int
    unread_count: int
    last_message: MessageOut | None = None

    @classmethod
    def of(cls, listed: Listed, user_id: str, last: Message | None = None) -> ChatOut:
        chat = listed.chat
        counterpart = chat.owner_id if user_id == chat.renter_id else chat.renter_id
        return cls(
            chat_id=chat.id,
            property_id=chat.property_id,
            renter_id=chat.renter_id,
            owner_id=chat.owner_id,
            initiated_by=chat.initiated_by,  # type: ignore[arg-type]
            created_at=chat.created_at,
            last_message_at=chat.last_message_at,
            status=status_for(chat, user_id),  # type: ignore[arg-type]
            property_title=listed.property_title,
            counterpart=Counterpart(user_id=counterpart, full_name=listed.counterpart_name),
            last_seq=chat.last_seq,
            unread_count=unread_in(chat, user_id),
            last_message=MessageOut.of(last, chat) if last else None,
        )


class ChatDetail(ChatOut):
    messages: list[MessageOut]
    has_more_messages: bool


class ChatPage(Page):
    chats: list[ChatOut]


class ChatListQuery(PageQuery):
    pass


class OpenedOut(Output):
    chat_id: str
    created: bool
    initiated_by: Literal["renter", "owner"]


class HistoryOut(Output):
    messages: list[MessageOut]
    has_more: bool


class ReadOut(Output):
    chat_id: str
    up_to_seq: int
    unread_count: int


class UnreadMessages(Output):
    unread_count: int
