"""A TCP proxy a test can cut and restore, to take a server away from the app for real."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

CHUNK_BYTES = 64 * 1024


class TcpProxy:
    """Forwards each connection to a loopback port on to `target_host:target_port`.

    `stop()` closes the listener and aborts every forwarded connection, as a
    crashed server would; `start()` listens again on the same port. `cut()`
    aborts the connections alone, as a network fault would. While
    `reply_delay` is set, every reply waits that many seconds: a slow server.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.reply_delay = 0.0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._forwarding: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Aborted before wait_closed: from Python 3.12 it waits for every connection.
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        await asyncio.gather(*self._forwarding, return_exceptions=True)

    def cut(self) -> None:
        """Abort every forwarded connection but go on listening: connections lost, the server still up."""
        for writer in list(self._writers):
            writer.transport.abort()

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._forwarding.add(task)
        writers = [client_writer]
        self._writers.add(client_writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.target_host, self.target_port)
            writers.append(upstream_writer)
            self._writers.add(upstream_writer)
            replies = pipe(upstream_reader, client_writer, lambda: self.reply_delay)
            await asyncio.gather(pipe(client_reader, upstream_writer), replies)
        except OSError:
            pass  # The target is down: the client sees its connection closed.
        finally:
            for writer in writers:
                self._writers.discard(writer)
                await close(writer)
            self._forwarding.discard(task)


async def pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: Callable[[], float] = lambda: 0.0
) -> None:
    """Copy until either side ends, then close the writer so the other direction ends too."""
    try:
        while data := await reader.read(CHUNK_BYTES):
            if pause := delay():
                await asyncio.sleep(pause)
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
