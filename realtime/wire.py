"""The server's own JSON: frames it sends, events it publishes and hears, encoded by pydantic-core.

Every message is encoded about five times (the published event, the ack, a
copy per socket, badges) and decoded once per process that hears it. With the
standard library's `json` that was a tenth of a server's CPU at a few
thousand messages a second; pydantic-core's Rust encoder, already installed
for validation, does the same work in a quarter of the time (bench/README.md).
The JSON is the same, compact; non-ASCII is written as UTF-8, as frames
always were and as published events, once escaped, now are too.

What clients send is still decoded by `client_json`, which refuses input the
standard decoder lets through and a server could not store or echo.
"""

from __future__ import annotations

from typing import Any

import pydantic_core


def dumps(value: Any) -> str:
    """Compact JSON text; anything JSON has no type for is written as its `str`."""
    return pydantic_core.to_json(value, fallback=str).decode()


def loads(text: str | bytes) -> Any:
    """Decode JSON this server wrote; ValueError when it is not JSON."""
    return pydantic_core.from_json(text)
