"""permessage-deflate that keeps no zlib state on an idle socket.

With ordinary context takeover each connection holds a compressor and a
decompressor for its lifetime: about 37 KB of zlib buffers even at window 12,
memLevel 5, more than the rest of an idle socket. Without context takeover
the state is gone between messages, but small frames (a chat message, a read
receipt, a badge) lose most of their compression, because their repeated
keys and ids no longer refer back to the previous frames (0.70 of their size
instead of 0.19 in `bench/README.md`).

So the server keeps only the last `HISTORY_BYTES` of what it sent and
compresses each message with a fresh compressor primed with them as a preset
dictionary. The client's decompressor keeps its window (the server does not
announce `server_no_context_takeover`), so those back-references are valid
and the stream is ordinary RFC 7692 deflate; small frames compress to 0.23 of
their size. Client frames are few and small: the server asks for
`client_no_context_takeover` and inflates each with a short-lived decompressor.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.frames import CONT, CTRL_OPCODES, Frame
from websockets.typing import ExtensionParameter

# 1 KB of history buys most of context takeover's ratio on chat frames (0.23 against 0.19 with the
# whole 4 KB window, 0.29 with 512 bytes) for 1 KB per socket instead of 37 KB.
HISTORY_BYTES = 1024
WINDOW_BITS = 12  # bounds the short-lived compressor and decompressor of one message
COMPRESS_SETTINGS = {"memLevel": 5}
_SYNC_TAIL = b"\x00\x00\xff\xff"


class PrimedDeflate(PerMessageDeflate):
    """Compresses each message with a new compressor primed with the last bytes sent."""

    def __init__(self, negotiated: PerMessageDeflate, history_bytes: int) -> None:
        # Negotiated as no takeover on our side, so the base class makes no long-lived compressor;
        # `keep` says whether context takeover was in fact agreed (0: the client asked for none).
        super().__init__(
            negotiated.remote_no_context_takeover,
            True,
            negotiated.remote_max_window_bits,
            negotiated.local_max_window_bits,
            negotiated.compress_settings,
        )
        window = 1 << negotiated.local_max_window_bits
        self.keep = 0 if negotiated.local_no_context_takeover else min(history_bytes, window)
        self.history = b""
        self.message: Any = None  # the compressor of a message sent in several frames, until its last one

    def encode(self, frame: Frame) -> Frame:
        if frame.opcode in CTRL_OPCODES:
            return frame
        if frame.opcode is not CONT:
            bits = self.local_max_window_bits
            self.message = zlib.compressobj(wbits=-bits, zdict=self.history, **self.compress_settings)
        data = self.message.compress(frame.data) + self.message.flush(zlib.Z_SYNC_FLUSH)
        if self.keep:
            self.history = (self.history + frame.data)[-self.keep :]
        if frame.fin:
            self.message = None
            assert data.endswith(_SYNC_TAIL)
            data = data[:-4]
        return Frame(frame.opcode, data, frame.fin, frame.opcode is not CONT, frame.rsv2, frame.rsv3)


class PrimedDeflateFactory(ServerPerMessageDeflateFactory):
    """Negotiates permessage-deflate as usual, then hands out a `PrimedDeflate`."""

    def __init__(self, history_bytes: int = HISTORY_BYTES) -> None:
        super().__init__(
            client_no_context_takeover=True,
            server_max_window_bits=WINDOW_BITS,
            client_max_window_bits=WINDOW_BITS,
            compress_settings=COMPRESS_SETTINGS,
        )
        self.history_bytes = history_bytes

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PrimedDeflate]:
        response, negotiated = super().process_request_params(params, accepted_extensions)
        return response, PrimedDeflate(negotiated, self.history_bytes)
