"""Events lost between processes, and how their sockets recover: Redis restarting (empty, since the private
Redis keeps nothing on disk), a subscription that goes deaf without a reset, presence missed meanwhile.

Several processes in general are in test_cluster.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from realtime.delivery import (
    PRESENCE_RECHECK_SECONDS,
    PRESENCE_RECHECK_SPREAD_SECONDS,
    PRESENCE_RETRY_SECONDS,
    REORDER_SECONDS,
)
from tests.conftest import MYSQL_URL, database_for, through
from tests.live import (
    COUNTERPARTS_READ,
    RedisServer,
    Server,
    call,
    chat_between,
    closed_with,
    drain_hello,
    frames_for,
    frames_until,
    message_at,
    next_frame,
    open_socket,
    post_messages,
    renter_and_owner,
    send_frame,
    server_env,
    started_in_thread,
)
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.timeout(120)]


@asynccontextmanager
async def owner_online(
    renter_ws: ClientConnection, server: Server, owner: dict[str, Any]
) -> AsyncIterator[ClientConnection]:
    """The owner's socket on `server`, once the renter's socket has heard them come online."""
    async with await open_socket(server, owner["token"]) as owner_ws:
        await next_frame(owner_ws, "hello")
        online = await next_frame(renter_ws, "presence", timeout=10)
        assert online == {"type": "presence", "user_id": owner["user_id"], "online": True}
        yield owner_ws


async def test_fan_out_resumes_after_redis_restarts_and_nothing_stored_is_lost(
    pair_of_servers: tuple[Server, Server, str], private_redis: RedisServer
) -> None:
    first, second, database = pair_of_servers
    owner, renter, chat_id = await chat_between(first, database)
    async with renter_and_owner(first, second, renter, owner) as (renter_ws, owner_ws):
        await renter_ws.send(send_frame(chat_id, "before", "r-0"))
        assert (await next_frame(renter_ws, "ack"))["message"]["seq"] == 2
        assert (await next_frame(owner_ws, "message"))["message"]["seq"] == 2
        private_redis.stop()
        for n in range(1, 6):  # stored and acked while Redis is down
            await renter_ws.send(send_frame(chat_id, f"during {n}", f"r-{n}"))
            assert (await next_frame(renter_ws, "ack", timeout=15))["message"]["seq"] == 2 + n
        await private_redis.start()
        seqs: list[int] = []
        while len(seqs) < 5:  # recovered by the writer once the fan-out is back
            seqs.append((await next_frame(owner_ws, "message", timeout=30))["message"]["seq"])
        assert seqs == [3, 4, 5, 6, 7]
        await renter_ws.send(send_frame(chat_id, "after", "r-9"))
        assert (await next_frame(owner_ws, "message", timeout=15))["message"]["seq"] == 8


# Past every resync's presence read, with a margin for the fan-out's reconnect.
RECHECKED_SECONDS = PRESENCE_RECHECK_SECONDS + PRESENCE_RECHECK_SPREAD_SECONDS + 2


@asynccontextmanager
async def through_an_empty_redis_restart(
    servers: tuple[Server, Server, str], private_redis: RedisServer
) -> AsyncIterator[tuple[dict[str, Any], str, ClientConnection]]:
    """The owner (on the second process) online for the renter's socket (on the first), then Redis restarted.

    Yields the owner, the chat and the renter's socket. The private Redis keeps nothing on disk: it comes
    back empty, and every socket resyncs.
    """
    first, second, database = servers
    owner, renter, chat_id = await chat_between(first, database)
    async with await open_socket(first, renter["token"]) as renter_ws:
        await next_frame(renter_ws, "hello")
        async with owner_online(renter_ws, second, owner):
            private_redis.stop()
            await private_redis.start()
            yield owner, chat_id, renter_ws


async def test_a_redis_restart_that_lost_every_key_tells_no_socket_its_counterpart_went_offline(
    pair_of_servers: tuple[Server, Server, str], private_redis: RedisServer
) -> None:
    """Presence is rebuilt by each process's next heartbeat; a resync must not read it before then."""
    second = pair_of_servers[1]
    async with through_an_empty_redis_restart(pair_of_servers, private_redis) as (owner, chat_id, renter_ws):
        body = {"message": "back"}
        r = await call(second, "POST", f"/api/chats/{chat_id}/messages", owner["token"], json=body)
        assert r.status_code == 201, r.text
        frames = await frames_for(renter_ws, RECHECKED_SECONDS + 1)
    assert any(f["type"] == "message" and f["message"]["seq"] == 2 for f in frames), "the fan-out never came back"
    assert [f for f in frames if f["type"] == "presence"] == []


async def test_a_counterpart_who_blocks_after_a_resync_is_not_shown_online_by_its_presence_read(
    pair_of_servers: tuple[Server, Server, str], private_redis: RedisServer
) -> None:
    """A block hides the blocker's presence; the resync's later read must not undo that."""
    second = pair_of_servers[1]
    async with through_an_empty_redis_restart(pair_of_servers, private_redis) as (owner, chat_id, renter_ws):
        await asyncio.sleep(2)  # the fan-out is back
        r = await call(second, "POST", f"/api/chats/{chat_id}/block", owner["token"])
        assert r.status_code == 200, r.text
        frames = await frames_for(renter_ws, RECHECKED_SECONDS)
    said = [f["online"] for f in frames if f["type"] == "presence" and f["user_id"] == owner["user_id"]]
    assert said[-1:] == [False]


@asynccontextmanager
async def one_process_through(proxy: TcpProxy, tmp_path: Path) -> AsyncIterator[tuple[Server, str]]:
    """A server whose Redis is reached through `proxy`, on a SQLite database of its own (or the suite's)."""
    database = database_for(tmp_path)
    env = server_env(database, f"redis://127.0.0.1:{proxy.port}/0", tmp_path / "uploads")
    async with started_in_thread(env) as (server,):
        yield server, database


def deafen(proxy: TcpProxy) -> None:
    """The subscription's connection through `proxy` hears nothing more; its process must notice."""
    dead = proxy.hold_replies_of(b"SUBSCRIBE")
    assert dead.seen.is_set(), "no connection subscribed through the proxy"


async def test_a_subscription_that_dies_without_a_reset_is_noticed_and_its_sockets_recover(
    tmp_path: Path, redis_proxy: TcpProxy
) -> None:
    """A NAT or firewall dropping the idle subscription connection: no reset, no error, no more events."""
    async with one_process_through(redis_proxy, tmp_path) as (server, database):
        owner, renter, chat_id = await chat_between(server, database)
        async with await open_socket(server, owner["token"]) as owner_ws:
            await next_frame(owner_ws, "hello")
            await frames_for(owner_ws, 1.0)  # the chat's notification and its badge, when they came after hello
            deafen(redis_proxy)
            body = {"message": "Are you still there?"}
            r = await call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json=body)
            assert r.status_code == 201, r.text
            assert (await message_at(owner_ws, 2, timeout=20))["message"] == body["message"]
            # Its badge event was lost too: the resync counts afresh.
            assert (await next_frame(owner_ws, "badge", timeout=5))["unread_messages"] == 2
            r = await call(server, "POST", f"/api/chats/{chat_id}/messages", renter["token"], json=body)
            assert (await message_at(owner_ws, 3, timeout=10))["seq"] == 3  # live again


async def test_a_presence_change_a_deaf_process_missed_reaches_its_sockets_after_it_recovers(
    tmp_path: Path, private_redis: RedisServer, redis_proxy: TcpProxy
) -> None:
    """The announcement went out through Redis, but the process whose socket should hear it heard nothing."""
    database = database_for(tmp_path)
    deaf = server_env(database, f"redis://127.0.0.1:{redis_proxy.port}/0", tmp_path / "uploads")
    async with started_in_thread(deaf, server_env(database, private_redis.url, tmp_path / "uploads")) as servers:
        first, second = servers
        owner, renter, _ = await chat_between(first, database)
        async with await open_socket(first, renter["token"]) as renter_ws:
            await next_frame(renter_ws, "hello")
            async with owner_online(renter_ws, second, owner):
                deafen(redis_proxy)
            # The owner's last socket is gone: `second` announces it, `first` does not hear it.
            offline = await next_frame(renter_ws, "presence", timeout=30)
            assert offline == {"type": "presence", "user_id": owner["user_id"], "online": False}


async def test_a_logout_lost_in_a_redis_outage_still_closes_the_socket(
    pair_of_servers: tuple[Server, Server, str], private_redis: RedisServer
) -> None:
    first, second, database = pair_of_servers
    _, renter, _ = await chat_between(first, database)
    async with await open_socket(first, renter["token"]) as ws:
        await drain_hello(ws)
        private_redis.stop()
        r = await call(second, "POST", "/api/auth/logout", renter["token"])  # its event cannot reach `first`
        assert r.status_code == 200, r.text
        await private_redis.start()
        assert await closed_with(ws, timeout=30) == 4401  # the resync after the outage checks the token


async def test_a_read_receipt_lost_in_a_redis_outage_arrives_after_it(
    pair_of_servers: tuple[Server, Server, str], private_redis: RedisServer
) -> None:
    first, second, database = pair_of_servers
    owner, renter, chat_id = await chat_between(first, database)
    async with renter_and_owner(first, second, renter, owner) as (renter_ws, _):
        private_redis.stop()
        r = await call(second, "POST", f"/api/chats/{chat_id}/read", owner["token"], json={})
        assert r.status_code == 200, r.text  # its receipt cannot reach `first`
        await private_redis.start()
        receipt = await next_frame(renter_ws, "read", timeout=30)
        assert receipt == {"type": "read", "chat_id": chat_id, "reader_id": owner["user_id"], "up_to_seq": 1}


async def test_a_block_lost_in_a_redis_outage_still_stops_typing(
    pair_of_servers: tuple[Server, Server, str], private_redis: RedisServer
) -> None:
    first, second, database = pair_of_servers
    owner, renter, chat_id = await chat_between(first, database)
    typing = json.dumps({"type": "typing", "chat_id": chat_id})
    async with renter_and_owner(first, second, renter, owner) as (renter_ws, owner_ws):
        await renter_ws.send(typing)  # the renter's socket now knows who hears its typing in this chat
        assert (await next_frame(owner_ws, "typing"))["user_id"] == renter["user_id"]
        private_redis.stop()
        r = await call(second, "POST", f"/api/chats/{chat_id}/block", owner["token"])  # its event is lost
        assert r.status_code == 200, r.text
        await private_redis.start()
        for _ in range(60):  # until the resync after the outage has read the chat again
            await renter_ws.send(typing)
            with contextlib.suppress(TimeoutError):
                refused = await next_frame(renter_ws, "error", timeout=0.5)
                break
        else:
            pytest.fail("typing in the blocked chat was never refused")
        assert refused["code"] == "forbidden"


@pytest.mark.mysql
async def test_a_presence_recheck_the_database_fails_leaves_the_socket_open_and_is_tried_again(
    tmp_path: Path, private_redis: RedisServer, redis_proxy: TcpProxy, database_proxy: TcpProxy
) -> None:
    """Presence is a hint: a failed read of it after a resync costs the socket nothing but a later try."""
    uploads = tmp_path / "uploads"
    deaf = server_env(through(database_proxy, read_timeout="2"), f"redis://127.0.0.1:{redis_proxy.port}/0", uploads)
    async with started_in_thread(deaf, server_env(MYSQL_URL, private_redis.url, uploads)) as (first, second):
        owner, renter, _ = await chat_between(second, MYSQL_URL)
        async with await open_socket(first, renter["token"]) as renter_ws:
            await next_frame(renter_ws, "hello")
            hold = database_proxy.hold_reply(COUNTERPARTS_READ)  # the next one on `first`: the recheck's
            try:
                async with owner_online(renter_ws, second, owner):
                    deafen(redis_proxy)
                await asyncio.wait_for(hold.seen.wait(), PRESENCE_RECHECK_SECONDS + PRESENCE_RECHECK_SPREAD_SECONDS + 5)
                # The held read times out after 2 s; the next try, 5 s later, reads on a fresh connection.
                offline = await next_frame(renter_ws, "presence", timeout=2 + PRESENCE_RETRY_SECONDS + 5)
            finally:
                hold.release()
            assert offline == {"type": "presence", "user_id": owner["user_id"], "online": False}
            await renter_ws.send(json.dumps({"type": "ping"}))
            assert (await next_frame(renter_ws, "pong"))["type"] == "pong"


async def test_a_sync_claiming_more_than_was_sent_then_less_sends_nothing_twice(
    tmp_path: Path, redis_proxy: TcpProxy
) -> None:
    """Messages stored while the socket hears nothing; the client claims them from REST, then claims less."""
    async with one_process_through(redis_proxy, tmp_path) as (server, database):
        owner, renter, chat_id = await chat_between(server, database)
        async with await open_socket(server, owner["token"]) as ws:
            await next_frame(ws, "hello")  # last_seq 1
            await post_messages(server, renter, chat_id, range(2, 3))
            assert (await message_at(ws, 2))["seq"] == 2  # sent live
            deafen(redis_proxy)
            await post_messages(server, renter, chat_id, range(3, 5))  # stored, not heard
            frames = []
            for claim in (4, 1):  # read 3 and 4 by REST; then stale local state
                await ws.send(json.dumps({"type": "sync", "chats": {chat_id: claim}}))
                frames += await frames_until(ws, "synced")
            assert [f["message"]["seq"] for f in frames if f["type"] == "message"] == []  # 2 came live


async def test_a_socket_reads_its_chats_only_once_redis_has_confirmed_its_subscription(
    tmp_path: Path, redis_proxy: TcpProxy
) -> None:
    """Else an event published before Redis took the SUBSCRIBE reaches nobody, after hello has read past it."""
    async with one_process_through(redis_proxy, tmp_path) as (server, database):
        _, renter, _ = await chat_between(server, database)
        confirmation = redis_proxy.hold_reply(b"SUBSCRIBE")  # the renter's channel is new to the process
        try:
            async with await open_socket(server, renter["token"]) as ws:
                await asyncio.wait_for(confirmation.seen.wait(), 5)
                assert await frames_for(ws, 0.5) == []  # no hello while Redis has not answered
                confirmation.release()
                assert (await next_frame(ws, "hello"))["user_id"] == renter["user_id"]
        finally:
            confirmation.release()


async def test_a_message_still_on_its_way_when_its_chat_is_blocked_fills_in_nothing_of_that_chat(
    tmp_path: Path, redis_proxy: TcpProxy
) -> None:
    """A socket opened after the block holds no seq of the chat: a late event must not make it read the history."""
    async with one_process_through(redis_proxy, tmp_path) as (server, database):
        owner, renter, chat_id = await chat_between(server, database)
        async with await open_socket(server, owner["token"]) as first_tab:  # the owner's channel is subscribed
            await next_frame(first_tab, "hello")
            await frames_for(first_tab, 0.5)  # the chat's notification and badge
            held = redis_proxy.hold_replies_of(b"SUBSCRIBE")  # events wait at the proxy, for well under a second
            try:
                await post_messages(server, renter, chat_id, range(2, 3))
                r = await call(server, "POST", f"/api/chats/{chat_id}/block", owner["token"])
                assert r.status_code == 200, r.text
                async with await open_socket(server, owner["token"]) as second_tab:
                    hello = await next_frame(second_tab, "hello")
                    assert hello["chats"] == []
                    held.release()
                    frames = await frames_for(second_tab, REORDER_SECONDS + 1.0)
            finally:
                held.release()
            # The late event did come: held longer, the subscription is rebuilt and its events are gone, which
            # would leave the second tab nothing to refuse (a resync sends nothing of a blocked chat).
            await message_at(first_tab, 2, timeout=2)
        assert [f for f in frames if f["type"] == "message"] == []
