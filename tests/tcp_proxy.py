"""A TCP proxy a test can cut and restore, to take a server away from the app for real."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

CHUNK_BYTES = 64 * 1024
KEPT_REQUEST_BYTES = 64 * 1024  # of each connection's first requests, for `hold_replies_of`


class TcpProxy:
    """Forwards each connection to a loopback port on to `target_host:target_port`.

    `stop()` closes the listener and aborts every forwarded connection, as a
    crashed server would; `start()` listens again on the same port. `cut()`
    aborts the connections alone, as a network fault would. While
    `reply_delay` is set, every reply waits that many seconds: a slow server.
    `hold_reply` stops one connection's replies at a request of the test's
    choosing, to act at a known point between an app's statements;
    `hold_replies_of` stops those of connections already open, as if they had
    died without a reset; `freeze` stops every reply, of later connections
    too, as a hung server would.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.reply_delay = 0.0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._forwarding: set[asyncio.Task[None]] = set()
        self._hold: Hold | None = None
        self._frozen: Hold | None = None
        self._open: set[_Forwarded] = set()

    def hold_reply(self, fragment: bytes) -> Hold:
        """Hold back the reply to the next request that contains `fragment`, and its connection's later ones.

        The request itself goes through: the server has run it when the test acts on `hold.seen`.
        """
        self._hold = Hold(fragment)
        return self._hold

    def hold_replies_of(self, fragment: bytes) -> Hold:
        """From now on, hold back the replies of each open connection whose first requests contained `fragment`."""
        hold = Hold(fragment)
        for forwarded in self._open:
            if fragment in forwarded.sent:
                hold.take(forwarded.flowing)
        return hold

    def freeze(self) -> Hold:
        """Hold back every reply, of the open connections and of those opened later, until `release()`."""
        self._frozen = self.hold_replies_of(b"")
        return self._frozen

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Aborted before wait_closed: from Python 3.12 it waits for every connection.
        self.cut()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        await asyncio.gather(*self._forwarding, return_exceptions=True)

    def cut(self) -> None:
        """Abort every forwarded connection but go on listening: connections lost, the server still up."""
        for writer in list(self._writers):
            writer.transport.abort()
        for forwarded in self._open:
            forwarded.flowing.set()  # a held reply's pipe sees its connection gone

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._forwarding.add(task)
        writers = [client_writer]
        self._writers.add(client_writer)
        forwarded = _Forwarded()
        self._open.add(forwarded)
        if self._frozen is not None and not self._frozen.released:
            self._frozen.take(forwarded.flowing)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.target_host, self.target_port)
            writers.append(upstream_writer)
            self._writers.add(upstream_writer)

            async def request(data: bytes) -> None:
                if len(forwarded.sent) < KEPT_REQUEST_BYTES:
                    forwarded.sent += data[: KEPT_REQUEST_BYTES - len(forwarded.sent)]
                if self._hold is not None and self._hold.fragment in data:
                    self._hold.take(forwarded.flowing)
                    self._hold = None

            async def reply(data: bytes) -> None:
                if pause := self.reply_delay:
                    await asyncio.sleep(pause)
                await forwarded.flowing.wait()

            await asyncio.gather(
                pipe(client_reader, upstream_writer, request), pipe(upstream_reader, client_writer, reply)
            )
        except OSError:
            pass  # The target is down: the client sees its connection closed.
        finally:
            self._open.discard(forwarded)
            for writer in writers:
                self._writers.discard(writer)
                await close(writer)
            self._forwarding.discard(task)


class _Forwarded:
    """One forwarded connection: its replies flow while `flowing` is set."""

    def __init__(self) -> None:
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.sent = bytearray()


@dataclass
class Hold:
    """Held replies (`TcpProxy.hold_reply`): `seen` once a connection is held, flowing again after `release()`."""

    fragment: bytes
    seen: asyncio.Event = field(default_factory=asyncio.Event)
    released: bool = False
    _held: list[asyncio.Event] = field(default_factory=list)

    def take(self, flowing: asyncio.Event) -> None:
        flowing.clear()
        self._held.append(flowing)
        self.seen.set()

    def release(self) -> None:
        self.released = True
        for flowing in self._held:
            flowing.set()


async def pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, before: Callable[[bytes], Awaitable[None]]
) -> None:
    """Copy until either side ends, then close the writer so the other direction ends too."""
    try:
        while data := await reader.read(CHUNK_BYTES):
            await before(data)
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


@contextlib.asynccontextmanager
async def proxying(target_host: str, target_port: int) -> AsyncIterator[TcpProxy]:
    """A started proxy to `target_host:target_port`, stopped after the block."""
    proxy = TcpProxy(target_host, target_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()
