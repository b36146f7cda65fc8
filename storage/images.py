"""Property images: received from a streamed multipart body, all or nothing, and served publicly.

An upload is checked while it streams: each file by its first bytes (never its
name or declared type) and its size, the body by its length. Files go to
hidden temporary names in the destination folder and are renamed to their
random final names only once the whole body has been received and checked;
any failure, a client hanging up or the task being cancelled included,
removes everything this request wrote.
"""

from __future__ import annotations

import os
import secrets
import unicodedata
from collections.abc import Iterable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from errors import Invalid, PayloadTooLarge, UnsupportedMediaType
from storage.multipart import PART_OVERHEAD_BYTES, Event, PartEnd, PartStart, read_parts

# The contract's limit for any single upload.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Listing forms send at most a few small fields (an id, a caption) beside the files;
# they are ignored, but capped so they cannot stand in for a large upload.
MAX_FIELDS = 20
MAX_FIELD_BYTES = 8 * 1024
# WebP needs the most to recognise: "RIFF", a 4-byte length, then "WEBP".
SNIFF_BYTES = 12
# Each write to disk is a hop to a worker thread (tens of microseconds); batching
# server chunks (64 KiB under uvicorn) into 256 KiB writes keeps a 10 MB file to
# about 40 hops while holding at most 256 KiB plus one chunk in memory.
WRITE_BATCH_BYTES = 256 * 1024
# A year, and immutable: stored names are random and never reused, so a name's
# content never changes; a replaced image gets a new name.
CACHE_CONTROL = "public, max-age=31536000, immutable"
# Keeps the client's file name displayable in metadata; the stored name never uses it.
MAX_ORIGINAL_NAME = 255

# Extension and content type for each accepted kind, told apart by their first bytes.
IMAGE_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


@dataclass(frozen=True)
class SavedImage:
    stored_name: str  # random, with the extension of the detected type
    original_name: str  # the client's name, metadata only: never part of a path
    content_type: str
    size: int
    path: Path


def sniff(head: bytes) -> str | None:
    """The extension for an image's first bytes, or None when they are no JPEG, PNG or WebP."""
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    return None


def body_limit(max_files: int, max_bytes: int) -> int:
    """The largest body a valid upload can need: every file at its cap, every field at its cap."""
    return max_files * (max_bytes + PART_OVERHEAD_BYTES) + MAX_FIELDS * (MAX_FIELD_BYTES + PART_OVERHEAD_BYTES)


def readable_size(size: int) -> str:
    mb = 1024 * 1024
    return f"{size // mb} MB" if size % mb == 0 else f"{size} bytes"


def quoted(name: str) -> str:
    return f"'{name}'" if name else "without a name"


def original_name(filename: str) -> str:
    # Only the last path segment, whichever separator the client's system uses, and no control characters.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if unicodedata.category(ch) != "Cc")[:MAX_ORIGINAL_NAME]


@dataclass
class Incoming:
    """One file part on its way to disk."""

    original_name: str
    size: int = 0
    buffer: bytearray = field(default_factory=bytearray)  # received, not yet written
    stored_name: str = ""  # set once the type is known and the temporary file is open
    file: BinaryIO | None = None
    temp: Path | None = None


@dataclass
class FormField:
    name: str
    size: int = 0


class Receiver:
    """The state of one upload: files done, the part being read, and how to undo it all."""

    def __init__(self, folder: Path, max_files: int, max_bytes: int) -> None:
        self.folder = folder
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.files: list[Incoming] = []
        self.parts = 0
        self.current: Incoming | FormField | None = None

    async def handle(self, event: Event) -> None:
        if isinstance(event, PartStart):
            self.start(event)
        elif isinstance(event, PartEnd):
            await self.end()
        elif isinstance(self.current, FormField):
            self.current.size += len(event)
            if self.current.size > MAX_FIELD_BYTES:
                raise PayloadTooLarge(f"Form field '{self.current.name}' is larger than {MAX_FIELD_BYTES} bytes")
        elif isinstance(self.current, Incoming):
            await self.receive(self.current, event)

    def start(self, part: PartStart) -> None:
        # Every part counts, empty file inputs too: parsing a million tiny parts is work enough to refuse.
        self.parts += 1
        if self.parts > self.max_files + MAX_FIELDS:
            raise Invalid.at(
                ("body",), f"Too many form fields (at most {self.max_files + MAX_FIELDS})", "too_many_fields"
            )
        if part.filename is not None and part.name == "files":
            self.current = Incoming(original_name(part.filename))
            self.files.append(self.current)
            return
        if part.filename is not None:
            raise Invalid.at(("body", part.name), "Unexpected file; images go in the 'files' field", "unexpected_file")
        if part.name == "files":
            raise Invalid.at(("body", "files"), "Expected an image file, got a text field", "file_type")
        self.current = FormField(part.name)

    async def receive(self, incoming: Incoming, data: bytes) -> None:
        incoming.size += len(data)
        if incoming.size > self.max_bytes:
            raise PayloadTooLarge(
                f"Image {quoted(incoming.original_name)} is larger than {readable_size(self.max_bytes)}"
            )
        incoming.buffer += data
        if incoming.file is None and len(incoming.buffer) >= SNIFF_BYTES:
            await self.open(incoming)
        if incoming.file is not None and len(incoming.buffer) >= WRITE_BATCH_BYTES:
            await anyio.to_thread.run_sync(incoming.file.write, incoming.buffer)
            incoming.buffer.clear()

    async def open(self, incoming: Incoming) -> None:
        extension = sniff(bytes(incoming.buffer[:SNIFF_BYTES]))
        if extension is None:
            raise UnsupportedMediaType(f"File {quoted(incoming.original_name)} is not a JPEG, PNG or WebP image")
        if len(self.files) > self.max_files:
            raise Invalid.at(("body", "files"), f"At most {self.max_files} images at a time", "too_many_files")
        incoming.stored_name = secrets.token_hex(16) + extension
        # A dot name is never served (see PublicFiles), so a half-written file stays private.
        incoming.temp = self.folder / f".{incoming.stored_name}.part"
        with anyio.CancelScope(shield=True):  # else a cancel here would drop the open file unclosed
            incoming.file = await anyio.to_thread.run_sync(create_file, incoming.temp)

    async def end(self) -> None:
        incoming, self.current = self.current, None
        if not isinstance(incoming, Incoming):
            return
        if incoming.size == 0 and not incoming.original_name:
            self.files.remove(incoming)  # what a browser sends for a file input left empty
            return
        if incoming.file is None:
            await self.open(incoming)  # shorter than SNIFF_BYTES: almost surely refused
        assert incoming.file is not None
        await anyio.to_thread.run_sync(write_and_close, incoming.file, incoming.buffer)
        incoming.buffer.clear()

    async def commit(self) -> list[SavedImage]:
        if not self.files:
            raise Invalid.at(("body", "files"), "At least one image file is required")
        return await anyio.to_thread.run_sync(rename_all, self.files, self.folder)

    def discard(self) -> None:
        # Each step on its own: a close that fails (a full disk) must not keep the other files around.
        for incoming in self.files:
            if incoming.file is not None:
                with suppress(OSError):
                    incoming.file.close()
            if incoming.temp is not None:
                unlink_all([incoming.temp, self.folder / incoming.stored_name])


async def receive_images(
    request: Request, folder: Path, *, max_files: int = 10, max_bytes: int = MAX_IMAGE_BYTES
) -> list[SavedImage]:
    """Store the images of a multipart body's `files` parts in `folder` (made if missing), all or nothing.

    Refuses, leaving nothing on disk: a file that is no JPEG, PNG or WebP
    (415); a file over `max_bytes` or a body too large to be valid (413, while
    streaming); no file or more than `max_files` (422); a body that is not
    multipart (422) or is malformed (400). A client hanging up raises
    Starlette's ClientDisconnect after the same cleanup.
    """
    if max_files < 1 or max_bytes < 1:
        raise ValueError("max_files and max_bytes must be positive")
    receiver = Receiver(folder, max_files, max_bytes)
    try:
        async with aclosing(read_parts(request, max_body_bytes=body_limit(max_files, max_bytes))) as events:
            async for event in events:
                await receiver.handle(event)
        return await receiver.commit()
    except BaseException:
        # Shielded: a cancelled request must still take its files with it.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(receiver.discard)
        raise


async def remove_images(images: Iterable[SavedImage]) -> None:
    """Delete received images again, for a caller whose own step (say, its transaction) failed after them."""
    paths = [image.path for image in images]
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(unlink_all, paths)


def create_file(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "xb")  # "x": never write over a file that is already there


def write_and_close(file: BinaryIO, data: bytearray) -> None:
    with file:
        file.write(data)


def rename_all(files: list[Incoming], folder: Path) -> list[SavedImage]:
    saved = []
    for incoming in files:
        assert incoming.temp is not None
        final = folder / incoming.stored_name
        # Names are 128 random bits, so `replace` overwriting an existing file is not a real risk.
        os.replace(incoming.temp, final)
        content_type = IMAGE_TYPES[final.suffix]
        saved.append(SavedImage(incoming.stored_name, incoming.original_name, content_type, incoming.size, final))
    return saved


def unlink_all(paths: list[Path]) -> None:
    for path in paths:
        with suppress(OSError):
            path.unlink(missing_ok=True)


class PublicFiles(StaticFiles):
    """StaticFiles for a folder of uploaded images, which may not exist yet."""

    async def check_config(self) -> None:
        # The folder appears with the first upload; until then every name is simply not found.
        return None

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        # Uploads in progress have dot names, and every way out of the folder starts with "..".
        if any(part.startswith(".") for part in path.split(os.sep)):
            return "", None
        return super().lookup_path(path)

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        content_type = IMAGE_TYPES.get(Path(full_path).suffix.lower())
        if content_type and response.status_code != 304:
            response.headers["Content-Type"] = content_type  # not left to the system's MIME table
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response


def public_files(directory: Path) -> ASGIApp:
    """An app serving `directory` to anyone, for `Mount("/uploads/properties", app=...)`.

    Missing names, dot names and paths leading out of `directory` are 404;
    answers carry `nosniff` and a year's `Cache-Control`.
    """
    return PublicFiles(directory=directory, check_dir=False)
