"""Several server processes: fan-out and presence through Redis, crashes, a process stopped mid-burst.

A socket that cannot keep up is in test_slow_consumers.py; events lost in Redis outages in test_lost_events.py.
"""

from __future__ import annotations

import asyncio
import json
import signal

import pytest
from websockets.exceptions import ConnectionClosed

from realtime.presence import REAP_EVERY, TTL_SECONDS
from tests.live import (
    Server,
    call,
    chat_between,
    drain_hello,
    frames_for,
    frames_until,
    make_property,
    message_at,
    next_frame,
    open_socket,
    register,
    renter_and_owner,
    send_frame,
)

pytestmark = [pytest.mark.timeout(120)]


async def test_messages_cross_between_two_processes(pair_of_servers: tuple[Server, Server, str]) -> None:
    first, second, database = pair_of_servers
    owner, renter, chat_id = await chat_between(first, database)
    async with renter_and_owner(first, second, renter, owner) as (renter_ws, owner_ws):
        await renter_ws.send(send_frame(chat_id, "from process one", "x-1"))
        assert (await next_frame(owner_ws, "message"))["message"]["message"] == "from process one"
        assert (await next_frame(renter_ws, "message"))["message"]["seq"] == 2  # the sender's own socket too
        await owner_ws.send(send_frame(chat_id, "from process two", "x-2"))
        assert (await next_frame(renter_ws, "message"))["message"]["seq"] == 3
        assert (await next_frame(renter_ws, "read"))["up_to_seq"] == 3  # writing read the chat
        await owner_ws.send(json.dumps({"type": "typing", "chat_id": chat_id}))
        assert (await next_frame(renter_ws, "typing"))["user_id"] == owner["user_id"]
        await renter_ws.send(send_frame(chat_id, "one more", "x-3"))
        assert (await message_at(owner_ws, 4))["message"] == "one more"
        await owner_ws.send(json.dumps({"type": "read", "chat_id": chat_id, "up_to_seq": 4}))
        assert (await next_frame(renter_ws, "read"))["up_to_seq"] == 4


async def test_two_tabs_of_one_user_on_one_process_connecting_at_once(
    pair_of_servers: tuple[Server, Server, str],
) -> None:
    first, second, database = pair_of_servers
    owner, renter, chat_id = await chat_between(first, database)
    tabs = await asyncio.gather(*(open_socket(second, owner["token"]) for _ in range(4)))
    try:
        await drain_hello(*tabs)
        await call(first, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json={"message": "to every tab"})
        for tab in tabs:
            assert (await next_frame(tab, "message"))["message"]["message"] == "to every tab"
    finally:
        await asyncio.gather(*(tab.close() for tab in tabs))


async def test_presence_follows_the_first_and_last_socket_on_any_process(
    pair_of_servers: tuple[Server, Server, str],
) -> None:
    first, second, database = pair_of_servers
    owner, renter, _ = await chat_between(first, database)
    async with await open_socket(second, owner["token"]) as owner_ws:
        await drain_hello(owner_ws)
        tab_one = await open_socket(first, renter["token"])
        assert await next_frame(owner_ws, "presence") == {
            "type": "presence",
            "user_id": renter["user_id"],
            "online": True,
        }
        tab_two = await open_socket(second, renter["token"])
        hello = await next_frame(tab_two, "hello")
        await tab_one.close()
        await tab_two.send(json.dumps({"type": "ping"}))
        await next_frame(tab_two, "pong")
        # The renter's other tab is open on the other process: no offline yet (it would be dropped as a
        # repeat of the one below, which would then prove nothing).
        assert [f for f in await frames_for(owner_ws, 1.5) if f["type"] == "presence"] == []
        await tab_two.close()
        offline = await next_frame(owner_ws, "presence")
        assert offline == {"type": "presence", "user_id": renter["user_id"], "online": False}
        assert hello["online"] == [owner["user_id"]]


async def test_a_new_chat_tells_each_side_online_that_the_other_is(
    pair_of_servers: tuple[Server, Server, str],
) -> None:
    """Both online on different processes, sharing no chat: opening one makes them counterparts."""
    first, second, _ = pair_of_servers
    owner, renter = await register(first, "owner"), await register(first)
    properties = [await make_property(first, owner) for _ in range(2)]
    async with renter_and_owner(first, second, renter, owner) as (renter_ws, owner_ws):
        opened = []
        for property_id in properties:  # the second chat of the pair announces nothing new
            body = {"property_id": property_id, "initial_message": "Hi"}
            r = await call(first, "POST", "/api/chats/initiate", renter["token"], json=body)
            opened.append(r.json()["chat_id"])
        # Sent after both openings by the same process: each socket's frames before it are all they heard.
        await call(first, "POST", f"/api/chats/{opened[1]}/messages", renter["token"], json={"message": "last"})
        for ws, other in ((owner_ws, renter), (renter_ws, owner)):
            frames = await frames_until(ws, "message")
            while frames[-1]["message"]["message"] != "last":
                frames += await frames_until(ws, "message")
            presence = [f for f in frames if f["type"] == "presence"]
            assert presence == [{"type": "presence", "user_id": other["user_id"], "online": True}], frames
        await renter_ws.close()
        offline = await next_frame(owner_ws, "presence")
        assert offline == {"type": "presence", "user_id": renter["user_id"], "online": False}


async def test_a_crashed_process_does_not_leave_its_users_online(
    pair_of_servers: tuple[Server, Server, str],
) -> None:
    first, second, database = pair_of_servers
    owner, renter, _ = await chat_between(first, database)
    async with await open_socket(second, owner["token"]) as owner_ws:
        await drain_hello(owner_ws)
        renter_ws = await open_socket(first, renter["token"])
        assert (await next_frame(owner_ws, "presence"))["online"] is True
        loop = asyncio.get_running_loop()
        killed = loop.time()
        first.stop(signal.SIGKILL)
        offline = await next_frame(owner_ws, "presence", timeout=75)
        assert offline == {"type": "presence", "user_id": renter["user_id"], "online": False}
        # Its entry expires a TTL after its last heartbeat, and a reaper looks every REAP_EVERY seconds.
        assert loop.time() - killed < TTL_SECONDS + REAP_EVERY + 5
        await renter_ws.close()


async def test_a_process_stopped_mid_burst_closes_with_1012_exits_and_its_client_retries_on_the_other(
    pair_of_servers: tuple[Server, Server, str],
) -> None:
    """A rolling restart: SIGTERM while the renter's sends are in flight, wherever it lands among them.

    The renter's socket gets 1012, the process exits cleanly on its own, and the renter, reconnected to
    the other process, resends every client_id: what was acked keeps its seq and nothing is stored twice.
    """
    first, second, database = pair_of_servers
    owner, renter, chat_id = await chat_between(first, database)
    burst = [f"burst-{n}" for n in range(15)]  # under the 20 sends a second a socket may make
    async with await open_socket(second, owner["token"]) as owner_ws:
        await drain_hello(owner_ws)
        acked: dict[str, int] = {}
        async with await open_socket(first, renter["token"]) as renter_ws:
            await drain_hello(renter_ws)
            for client_id in burst:
                await renter_ws.send(send_frame(chat_id, client_id, client_id))
            process = first.process
            assert process is not None
            stopping = asyncio.create_task(asyncio.to_thread(first.stop))  # SIGTERM, then up to 10 s to exit
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    frame = json.loads(await asyncio.wait_for(renter_ws.recv(), 15))
                    if frame["type"] == "ack":
                        acked[frame["client_id"]] = frame["message"]["seq"]
            await stopping
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        # uvicorn ends a finished shutdown by raising the signal it caught again; SIGKILL means it hung.
        assert process.returncode == -signal.SIGTERM, "the process did not finish its shutdown on its own"
        async with await open_socket(second, renter["token"]) as renter_ws:
            await drain_hello(renter_ws)
            for client_id in burst:
                await renter_ws.send(send_frame(chat_id, client_id, client_id))
            retried: dict[str, int] = {}
            while len(retried) < len(burst):
                frame = await next_frame(renter_ws, "ack")
                retried[frame["client_id"]] = frame["message"]["seq"]
        assert {client_id: retried[client_id] for client_id in acked} == acked
        assert [retried[client_id] for client_id in burst] == list(range(2, 2 + len(burst)))
        delivered = [(await next_frame(owner_ws, "message"))["message"]["seq"] for _ in burst]
        assert delivered == list(range(2, 2 + len(burst)))
