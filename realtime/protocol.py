"""The uvicorn WebSocket protocol Homer runs with: `uvicorn main:app --ws realtime.protocol:WebSocketProtocol`.

It is uvicorn's own sans-I/O protocol with a frame limit of our own and four
changes for the memory of an idle socket, the bulk of a server's sockets
(figures per socket, measured in bench/README.md).

The protocol allows frames of at most 64 KB, counted in bytes after
inflating. websockets enforces that while it reads, so a compressed frame
that would inflate to megabytes is refused before it is inflated (uvicorn's
own limit is 16 MB), and its close is the protocol's 1008, not 1009.

- permessage-deflate is negotiated by `PrimedDeflateFactory`, which keeps no
  zlib state between messages (realtime/deflate.py): about 36 KB less.
- The handshake's request headers are dropped once the connection is
  accepted. uvicorn and websockets' parser both keep the request for the
  connection's lifetime, though the app reads its headers from the ASGI
  scope: about 3 KB.
- The queue of events for the app is a list with its waiting futures
  instead of an `asyncio.Queue`, whose four deques cost about 2 KB while
  holding nothing; the gate that holds sends while the transport's buffer is
  full is a flag with its waiting futures instead of an `asyncio.Event`,
  whose deque costs 0.7 KB.
- The handshake response's headers are dropped once it is sent: uvicorn
  keeps the response for the connection's lifetime, about 1 KB.

`--ws-per-message-deflate false` still turns compression off.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import CloseCode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from realtime.deflate import PrimedDeflateFactory

UVICORN_OPTION = "realtime.protocol:WebSocketProtocol"
MAX_FRAME_BYTES = 64 * 1024
# After the app is done, how long the connection may wait for the client to take what is left to send.
ABORT_SECONDS = 10.0
# Factories hold only configuration: one serves every connection of the process.
DEFLATE = PrimedDeflateFactory()


class Inbox:
    """What uvicorn's protocol uses of its receive queue: `put_nowait`, `get` and `empty`, unbounded."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiters: list[asyncio.Future[None]] = []

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def get(self) -> Any:
        # Every waiter is woken and checks again, so a getter cancelled after its wake-up loses nothing.
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items


class Gate:
    """What uvicorn's protocol uses of its write flow control's `asyncio.Event`: `set`, `clear`, `wait` (and
    `is_set`, for completeness).

    Open (set) unless the transport's buffer is full. As the Event, `wait` returns once it is open, even if
    it closed again before the waiter ran.
    """

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> bool:
        if self._open:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return True


class ServerConnection(ServerProtocol):
    """websockets' server side, closing a frame over the limit with 1008 as the protocol says."""

    def fail(self, code: CloseCode | int, reason: str = "") -> None:
        if code == CloseCode.MESSAGE_TOO_BIG:
            code, reason = CloseCode.POLICY_VIOLATION, "Frame larger than 64 KB"
        super().fail(code, reason)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Gate()  # type: ignore[assignment]
        extensions = [DEFLATE] if self.config.ws_per_message_deflate else []
        self.conn = ServerConnection(extensions=extensions, max_size=MAX_FRAME_BYTES, logger=self.conn.logger)

    async def run_asgi(self) -> None:
        await super().run_asgi()
        if not self.disconnected:
            # transport.close() first flushes what is buffered, which a client that stopped reading
            # never lets it do: the connection would stay open, holding its buffers, for good.
            self.loop.call_later(ABORT_SECONDS, self.abort_if_open)

    def abort_if_open(self) -> None:
        if not self.disconnected:
            self.transport.abort()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        event.headers.clear()  # copied into the scope by now; nothing reads them again

    def start_keepalive(self) -> None:
        super().start_keepalive()  # called once, right after the accepting response was written
        self.response.headers.clear()  # nothing reads them again
