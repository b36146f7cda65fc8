"""Client-to-server frames (REALTIME.md), validated by pydantic; anything else is a `bad_frame`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError, field_validator

from http_api.schemas.chats import Attachment, ClientId, JsonSeq, MessageText
from http_api.schemas.common import Input, Url
from persistence.messages import MAX_MESSAGE_CHARS

ChatId = Annotated[str, Field(min_length=1, max_length=36)]
_client_id = TypeAdapter(ClientId)


class AuthFrame(Input):
    type: Literal["auth"]
    token: str = Field(max_length=4096)


class SendFrame(Input):
    type: Literal["send"]
    chat_id: ChatId
    # Kept as typed, as by REST; its length is checked apart: over 4,000 characters is `too_long`, not `bad_frame`.
    message: Annotated[str, StringConstraints(strip_whitespace=False)]
    attachments: list[Attachment | Url] = Field(default_factory=list, max_length=10)
    # Echoed in the ack and in errors exactly as sent, since the client matches its answers by it; stored
    # as REST stores one, trimmed (`stored_client_id`), so " a " retries "a".
    client_id: Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=64)]

    @field_validator("client_id")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("client_id must not be blank")
        return value

    @property
    def stored_client_id(self) -> str:
        """Trimmed by REST's own rule (never blank here: `not_blank` trims at least as much)."""
        return _client_id.validate_python(self.client_id)


class ReadFrame(Input):
    type: Literal["read"]
    chat_id: ChatId
    up_to_seq: JsonSeq


class TypingFrame(Input):
    type: Literal["typing"]
    chat_id: ChatId


class SyncFrame(Input):
    type: Literal["sync"]
    chats: dict[ChatId, JsonSeq] = Field(max_length=1000)


class PingFrame(Input):
    type: Literal["ping"]


ClientFrame = Annotated[
    SendFrame | ReadFrame | TypingFrame | SyncFrame | PingFrame | AuthFrame, Field(discriminator="type")
]
_frame = TypeAdapter(ClientFrame)
_text = TypeAdapter(MessageText)


class FrameError(Exception):
    def __init__(self, code: str, detail: str, client_id: str | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.client_id = code, detail, client_id

    def frame(self) -> dict[str, Any]:
        out = {"type": "error", "code": self.code, "detail": self.detail}
        return out | ({"client_id": self.client_id} if self.client_id else {})


def payload(message: Mapping[str, Any]) -> str | bytes:
    """A received ASGI WebSocket message's frame, text or binary alike ("" for a disconnect)."""
    return message.get("text") or message.get("bytes") or ""


def parse(data: Any) -> ClientFrame:
    """One client frame from decoded JSON; raises FrameError with the protocol's code."""
    client_id = data.get("client_id") if isinstance(data, dict) else None
    client_id = client_id if isinstance(client_id, str) else None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise FrameError("bad_frame", "A frame is a JSON object with a type", client_id)
    try:
        frame = _frame.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
        raise FrameError("bad_frame", f"{where}: {first['msg']}", client_id) from None
    if isinstance(frame, SendFrame):
        # By the length itself: the validation error's text quotes the message ("I pay at most 20k").
        if len(frame.message) > MAX_MESSAGE_CHARS:
            raise FrameError("too_long", f"Message must be at most {MAX_MESSAGE_CHARS} characters", frame.client_id)
        try:
            _text.validate_python(frame.message)
        except ValidationError as exc:
            raise FrameError("bad_frame", exc.errors(include_url=False)[0]["msg"], frame.client_id) from None
    return frame
