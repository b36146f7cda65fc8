"""The uvicorn WebSocket protocol Homer runs with: `uvicorn main:app --ws realtime.protocol:WebSocketProtocol`.

It is uvicorn's own sans-I/O protocol with permessage-deflate negotiated by
`PrimedDeflateFactory`, which keeps no zlib state between messages
(realtime/deflate.py): about 37 KB less per idle socket, the bulk of a
server's sockets (figures in bench/README.md). `--ws-per-message-deflate
false` still turns compression off.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from realtime.deflate import PrimedDeflateFactory

UVICORN_OPTION = "realtime.protocol:WebSocketProtocol"
# Factories hold only configuration: one serves every connection of the process.
DEFLATE = PrimedDeflateFactory()


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn.available_extensions = [DEFLATE]
