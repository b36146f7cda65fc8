"""The WebSocket protocol uvicorn runs with (realtime/protocol.py), against a real uvicorn process."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from realtime.protocol import UVICORN_OPTION, Gate, Inbox
from tests.live import PROJECT, Server, deflate_of, next_frame, open_socket, register

pytestmark = pytest.mark.timeout(60)


async def ping_pong(ws: ClientConnection, times: int = 5) -> None:
    for _ in range(times):
        await ws.send('{"type": "ping"}')
        assert await next_frame(ws, "pong") == {"type": "pong"}


async def test_compression_is_negotiated_with_a_small_window_and_client_frames_without_takeover(
    server: Server,
) -> None:
    user = await register(server)
    async with await open_socket(server, user["token"]) as ws:  # websockets offers deflate like a browser does
        assert ws.response is not None
        assert ws.response.headers["Sec-WebSocket-Extensions"] == (
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12"
        )
        deflate = deflate_of(ws)
        assert not deflate.remote_no_context_takeover and deflate.remote_max_window_bits == 12
        assert (await next_frame(ws, "hello"))["user_id"] == user["user_id"]
        await ping_pong(ws)  # compressed both ways; the server's frames refer back to earlier ones


async def test_a_client_may_refuse_the_servers_context_takeover(server: Server) -> None:
    user = await register(server)
    offer = ClientPerMessageDeflateFactory(server_no_context_takeover=True, client_max_window_bits=True)
    async with await open_socket(server, user["token"], extensions=[offer]) as ws:
        assert ws.response is not None
        assert ws.response.headers["Sec-WebSocket-Extensions"].startswith(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        )
        await next_frame(ws, "hello")
        await ping_pong(ws)


async def test_a_client_without_compression(server: Server) -> None:
    user = await register(server)
    async with await open_socket(server, user["token"], compression=None) as ws:
        assert ws.response is not None and "Sec-WebSocket-Extensions" not in ws.response.headers
        assert ws.protocol.extensions == []
        await next_frame(ws, "hello")
        await ping_pong(ws)


def test_production_runs_the_protocol_the_tests_run() -> None:
    assert f"--ws {UVICORN_OPTION} " in (PROJECT / "Procfile").read_text()


async def test_inbox_hands_out_in_order_and_loses_nothing_to_a_cancelled_getter() -> None:
    inbox = Inbox()
    cancelled = asyncio.create_task(inbox.get())
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("first")
    cancelled.cancel()  # woken, then cancelled before it ran: "first" stays for the other getter
    inbox.put_nowait("second")
    assert await waiting == "first" and await inbox.get() == "second"
    assert inbox.empty() and cancelled.cancelled()


async def test_the_write_gate_holds_sends_while_closed_and_lets_every_waiting_one_through_when_opened() -> None:
    gate = Gate()
    assert await asyncio.wait_for(gate.wait(), 1)  # open: at once
    gate.clear()
    waiting = [asyncio.create_task(gate.wait()) for _ in range(2)]
    cancelled = asyncio.create_task(gate.wait())
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in [*waiting, cancelled])
    cancelled.cancel()
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(*waiting), 1) == [True, True]
    assert cancelled.cancelled() and gate.is_set()
    # As an Event's: a waiter woken by `set` gets through though the gate closed again before it ran.
    gate.clear()
    late = asyncio.create_task(gate.wait())
    await asyncio.sleep(0)
    gate.set()
    gate.clear()
    assert await asyncio.wait_for(late, 1) is True
