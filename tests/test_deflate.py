"""permessage-deflate primed with recent history: what the server sends is ordinary RFC 7692 deflate."""

from __future__ import annotations

import json
import zlib

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, PerMessageDeflate
from websockets.frames import CONT, Frame, Opcode

from realtime.deflate import HISTORY_BYTES, PrimedDeflate, PrimedDeflateFactory


def negotiate(client: ClientPerMessageDeflateFactory) -> tuple[str, PrimedDeflate, PerMessageDeflate]:
    response, server = PrimedDeflateFactory().process_request_params(client.get_request_params(), [])
    header = "; ".join(name if value is None else f"{name}={value}" for name, value in response)
    return header, server, client.process_response_params(response, [])


def browser_like() -> ClientPerMessageDeflateFactory:
    # What browsers offer: "permessage-deflate; client_max_window_bits".
    return ClientPerMessageDeflateFactory(client_max_window_bits=True)


def chat_frames(count: int) -> list[bytes]:
    return [
        json.dumps({"type": "read", "chat_id": "8c1f6a0e-2d7b-4b39-9f0e-5b6a7c8d9e0f", "up_to_seq": seq}).encode()
        for seq in range(count)
    ]


def test_the_client_keeps_its_context_and_the_server_keeps_none() -> None:
    header, server, client = negotiate(browser_like())
    assert header == "client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12"
    assert not client.remote_no_context_takeover  # the browser's inflater keeps its window: history may be used
    assert server.remote_no_context_takeover and server.keep == HISTORY_BYTES


def test_every_message_decodes_with_the_clients_running_inflater() -> None:
    _, server, client = negotiate(browser_like())
    sent = [*chat_frames(200), b"", b"x" * 5000, bytes(range(256)) * 3]
    for data in sent:
        assert client.decode(server.encode(Frame(Opcode.TEXT, data))).data == data
        assert server.message is None and len(server.history) <= HISTORY_BYTES
    assert not hasattr(server, "encoder") and not hasattr(server, "decoder")


def test_a_message_in_several_frames() -> None:
    _, server, client = negotiate(browser_like())
    client.decode(server.encode(Frame(Opcode.TEXT, b"warm the history up " * 10)))
    parts = [Frame(Opcode.TEXT, b"first part, ", fin=False), Frame(CONT, b"second, ", fin=False), Frame(CONT, b"end")]
    decoded = [client.decode(server.encode(part)) for part in parts]
    assert b"".join(frame.data for frame in decoded) == b"first part, second, end"
    assert server.message is None


def test_history_makes_small_frames_smaller() -> None:
    _, server, _ = negotiate(browser_like())
    frames = chat_frames(50)
    primed = sum(len(server.encode(Frame(Opcode.TEXT, f)).data) for f in frames)
    alone = sum(len(zlib.compress(f, wbits=-12)) for f in frames)
    assert primed < alone / 2


def test_a_client_that_refuses_context_takeover_gets_plain_per_message_deflate() -> None:
    header, server, client = negotiate(ClientPerMessageDeflateFactory(server_no_context_takeover=True))
    assert header.startswith("server_no_context_takeover; client_no_context_takeover")
    assert server.keep == 0
    for data in chat_frames(20):
        assert client.decode(server.encode(Frame(Opcode.TEXT, data))).data == data
    assert server.history == b""


def test_client_frames_inflate_without_a_lasting_decompressor() -> None:
    _, server, client = negotiate(browser_like())
    for data in chat_frames(5):
        assert server.decode(client.encode(Frame(Opcode.TEXT, data))).data == data
        assert not hasattr(server, "decoder")
