"""JSON as clients send it: REST bodies and WebSocket frames, decoded one way.

`json.loads` accepts two things that blow up later, far from the input that
caused them: a lone UTF-16 surrogate escape ("\\ud800"), which decodes to a
string that neither the database driver nor a UTF-8 frame can encode, and
nesting deep enough to raise RecursionError. Both are the client's mistake, so
both are a ValueError here, where the caller already answers malformed JSON.
"""

from __future__ import annotations

import json
from typing import Any


def loads(raw: str | bytes) -> Any:
    """Decode what a client sent; ValueError for anything that is not JSON a server can store and echo."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    # A surrogate can only come from an escape: the raw text itself is valid UTF-8 (or json.loads refused it).
    if _escapes_surrogate(raw):
        try:
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise ValueError("JSON string holds a lone surrogate") from None
    return data


def _escapes_surrogate(raw: str | bytes) -> bool:
    if isinstance(raw, bytes):
        return b"\\ud" in raw or b"\\uD" in raw
    return "\\ud" in raw or "\\uD" in raw
