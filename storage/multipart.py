"""A multipart/form-data body read as a stream of part events, never held in memory.

python-multipart's parser reports headers and slices of data through
callbacks; `read_parts` turns them into events that an async consumer handles
between chunks, so file data can go to disk as it arrives and a rule can stop
the upload at the first byte too many. Starlette's `request.form()` is not
used: it spools every file with no cap on the total.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from errors import BadRequest, Invalid, PayloadTooLarge

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

# A browser sends two header lines a part (Content-Disposition, Content-Type), the
# longest holding a file name; these are python-multipart's own defaults, named here
# because PART_OVERHEAD_BYTES depends on them.
MAX_PART_HEADERS = 8
MAX_HEADER_LINE_BYTES = 4096 + 128
# RFC 2046 caps a boundary at 70 characters; python-multipart accepts up to 256.
MAX_BOUNDARY_BYTES = 256
# The most a part may add besides its content: its header lines and the boundary line before it.
PART_OVERHEAD_BYTES = MAX_PART_HEADERS * (MAX_HEADER_LINE_BYTES + 2) + MAX_BOUNDARY_BYTES + 8


@dataclass(frozen=True)
class PartStart:
    name: str
    filename: str | None  # None for a plain form field; "" for a file input left empty


@dataclass(frozen=True)
class PartEnd:
    pass


PART_END = PartEnd()
# A part is a PartStart, its content as zero or more byte strings, then PART_END.
Event = PartStart | bytes | PartEnd


async def read_parts(request: Request, *, max_body_bytes: int) -> AsyncGenerator[Event, None]:
    """The parts of a multipart/form-data body, as they arrive.

    Refuses a body that is not multipart/form-data (422), is malformed or ends
    before its closing boundary (400), or is larger than `max_body_bytes`
    (413, from Content-Length up front, else while streaming). An empty body
    yields no parts. Close it with `contextlib.aclosing` to stop reading early.
    """
    boundary = boundary_of(request.headers.get("content-type", ""))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise PayloadTooLarge(f"Upload larger than {max_body_bytes} bytes")
    collector = PartCollector()
    try:
        parser = MultipartParser(
            boundary,
            collector.callbacks(),
            max_header_count=MAX_PART_HEADERS,
            max_header_size=MAX_HEADER_LINE_BYTES,
        )
    except FormParserError:
        raise BadRequest("Malformed multipart body: the boundary is too long") from None
    received = 0
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            received += len(chunk)
            if received > max_body_bytes:
                raise PayloadTooLarge(f"Upload larger than {max_body_bytes} bytes")
            try:
                parser.write(chunk)
            except FormParserError:
                raise BadRequest("Malformed multipart body") from None
            for event in collector.take():
                yield event
            if collector.finished:
                return  # what follows the closing boundary is an epilogue, ignored by definition
    if received:
        # python-multipart's finalize() does not check this itself.
        raise BadRequest("Malformed multipart body: it ends before its closing boundary")


def boundary_of(content_type: str) -> bytes:
    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise Invalid.at(("header", "content-type"), "Expected a multipart/form-data body", "content_type")
    boundary = options.get(b"boundary", b"")
    if not boundary:
        raise BadRequest("Malformed multipart body: no boundary in the Content-Type header")
    return boundary


class PartCollector:
    """The parser's callbacks, queuing events until the consumer takes them after each chunk."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.finished = False
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.disposition = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def on_part_begin(self) -> None:
        self.disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        # Only the disposition matters: a part's declared Content-Type is never trusted.
        if self.header_name.lower() == b"content-disposition":
            self.disposition = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise BadRequest("Malformed multipart body: a part has no Content-Disposition name")
        filename = options.get(b"filename")
        self.events.append(PartStart(decode(options[b"name"]), None if filename is None else decode(filename)))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.events.append(data[start:end])

    def on_part_end(self) -> None:
        self.events.append(PART_END)

    def on_end(self) -> None:
        self.finished = True


def decode(raw: bytes) -> str:
    # Browsers send names in UTF-8; anything else still becomes some text rather than an error.
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")
