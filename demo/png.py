"""Tiny real PNG files (a vertical colour gradient), made with zlib and struct only."""

from __future__ import annotations

import struct
import zlib

Colour = tuple[int, int, int]

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def gradient_png(top: Colour, bottom: Colour, width: int = 160, height: int = 120) -> bytes:
    """An 8-bit RGB image fading from `top` to `bottom`; rows repeat, so it compresses to a few hundred bytes."""
    rows = bytearray()
    for y in range(height):
        share = y / max(height - 1, 1)
        pixel = bytes(round(a + (b - a) * share) for a, b in zip(top, bottom, strict=True))
        rows += b"\x00" + pixel * width  # filter type 0: the row as is
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit depth, colour type 2 (RGB)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
