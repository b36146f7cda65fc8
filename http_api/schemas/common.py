"""Shapes and field types that several areas of the API share."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from auth.passwords import MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES


class Input(BaseModel):
    """A request body: unknown fields are refused, never silently dropped or stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class QueryInput(BaseModel):
    """Query parameters: unknown ones (cache busters, tracking) are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


def never_null(*fields: str) -> Any:
    """A validator for fields a body may leave out but never clear: an explicit null is a 422."""

    def check(cls: type[BaseModel], value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value

    return field_validator(*fields, mode="before")(check)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class MessageOut(Output):
    message: str


def _password(value: str) -> str:
    size = len(value.encode())
    if size < MIN_PASSWORD_BYTES:
        raise ValueError(f"Password must be at least {MIN_PASSWORD_BYTES} characters")
    if size > MAX_PASSWORD_BYTES:
        raise ValueError(f"Password must be at most {MAX_PASSWORD_BYTES} bytes")
    return value


# Not stripped: spaces are part of a password.
Password = Annotated[str, StringConstraints(strip_whitespace=False), AfterValidator(_password)]

_INDIAN_MOBILE = re.compile(r"^(?:\+?91|0)?([6-9]\d{9})$")
_INTERNATIONAL = re.compile(r"^\+[1-9]\d{7,14}$")


def normalize_phone(value: str) -> str:
    """Indian mobiles in any usual spelling become +91XXXXXXXXXX; others must be E.164."""
    compact = re.sub(r"[\s\-().]", "", value)
    if match := _INDIAN_MOBILE.match(compact):
        return "+91" + match.group(1)
    if _INTERNATIONAL.match(compact):
        return compact
    raise ValueError("Phone must be a 10-digit Indian mobile number or in +<country><number> form")


Phone = Annotated[str, AfterValidator(normalize_phone)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
# No white space and no control characters (a NUL, say), which no link needs and a page could mishandle.
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^(https?://|/)[^\s\x00-\x1f\x7f]*$")
]


class PageQuery(QueryInput):
    """`page` from 1, `limit` up to 100: the contract's paging for lists that grow."""

    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=20, ge=1, le=100)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def more_after(self, shown: int, total: int) -> bool:
        """`has_more`: items lie beyond this page."""
        return self.offset + shown < total


class Page(Output):
    total_count: int
    page: int
    has_more: bool
