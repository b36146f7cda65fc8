"""Connecting to /ws: the three credentials, origins, and when a socket is closed with 4401 or 4403."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
import uuid
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.tokens import decode_token
from persistence.models import RealtimeTicket, RevokedToken, User
from persistence.types import utcnow
from settings import DEV_JWT_SECRET
from tests.conftest import REDIS_URL, database_for
from tests.live import (
    ORIGIN,
    TEST_PASSWORD,
    Server,
    call,
    chat_between,
    closed_with,
    next_frame,
    open_socket,
    register,
    run_sql,
    server_env,
)

pytestmark = pytest.mark.timeout(60)


async def test_hello_after_a_bearer_header(server: Server, database_url: str) -> None:
    owner, _, chat_id = await chat_between(server, database_url)
    async with await open_socket(server, owner["token"]) as ws:
        hello = await next_frame(ws)
        assert hello["type"] == "hello" and hello["user_id"] == owner["user_id"]
        assert hello["unread_messages"] == 1 and hello["unread_notifications"] == 1
        assert hello["chats"] == [{"chat_id": chat_id, "last_seq": 1, "unread_count": 1}]
        assert hello["server_time"] and hello["online"] == []


async def test_a_ticket_opens_one_socket_once(server: Server) -> None:
    renter = await register(server)
    ticket = (await call(server, "POST", "/api/realtime/ticket", renter["token"])).json()["ticket"]
    async with await open_socket(server, ticket=ticket, origin=ORIGIN) as ws:
        assert (await next_frame(ws))["user_id"] == renter["user_id"]
    async with await open_socket(server, ticket=ticket) as ws:
        assert await closed_with(ws) == 4401
    async with await open_socket(server, ticket="made-up") as ws:
        assert await closed_with(ws) == 4401


async def test_an_auth_frame_within_five_seconds(server: Server) -> None:
    renter = await register(server)
    async with await open_socket(server) as ws:
        await ws.send(json.dumps({"type": "auth", "token": renter["token"]}))
        assert (await next_frame(ws))["type"] == "hello"
        await ws.send(json.dumps({"type": "auth", "token": renter["token"]}))
        assert (await next_frame(ws))["code"] == "bad_frame"  # only once
    async with await open_socket(server) as ws:  # in a binary frame, as any later frame may be
        await ws.send(json.dumps({"type": "auth", "token": renter["token"]}).encode())
        assert (await next_frame(ws))["type"] == "hello"
    refused = ("not json", json.dumps({"type": "ping"}), json.dumps({"type": "auth", "token": "x.y.z"}), b"\xff")
    for first in refused:
        async with await open_socket(server) as ws:
            await ws.send(first)
            assert await closed_with(ws) == 4401, first


async def test_silence_after_connecting_is_closed_with_4401(server: Server) -> None:
    async with await open_socket(server) as ws:
        started = time.monotonic()
        assert await closed_with(ws, timeout=15) == 4401
        assert 4 < time.monotonic() - started < 10


async def test_bad_credentials_and_origins_are_closed(server: Server) -> None:
    renter = await register(server)
    expired = jwt.encode(
        {
            "sub": renter["user_id"],
            "jti": str(uuid.uuid4()),
            "iat": int(time.time()) - 100,
            "exp": int(time.time()) - 1,
        },
        DEV_JWT_SECRET,
    )
    for token in ("garbage", expired):
        async with await open_socket(server, token) as ws:
            assert await closed_with(ws) == 4401
    async with await open_socket(server, renter["token"], origin="https://evil.example") as ws:
        assert await closed_with(ws) == 4403
    async with await open_socket(server, renter["token"], origin=ORIGIN) as ws:
        assert (await next_frame(ws))["type"] == "hello"


async def test_a_revoked_token_a_ticket_past_its_minute_and_an_inactive_user_are_closed_with_4401(
    server: Server, database_url: str
) -> None:
    """Checked at connect, each way a credential can come, against the same users and revocations as REST."""
    renter, stale, inactive = await register(server), await register(server), await register(server)
    ticket = (await call(server, "POST", "/api/realtime/ticket", renter["token"])).json()["ticket"]
    assert (await call(server, "POST", "/api/auth/logout", renter["token"])).status_code == 200
    past = (await call(server, "POST", "/api/realtime/ticket", stale["token"])).json()["ticket"]
    gone = utcnow() - timedelta(seconds=1)

    async def expire_and_deactivate(session: AsyncSession) -> None:
        await session.execute(
            update(RealtimeTicket).where(RealtimeTicket.user_id == stale["user_id"]).values(expires_at=gone)
        )
        await session.execute(update(User).where(User.id == inactive["user_id"]).values(is_active=False))

    await run_sql(database_url, expire_and_deactivate)
    for refused in (renter, inactive):
        async with await open_socket(server, refused["token"]) as ws:
            assert await closed_with(ws) == 4401
        async with await open_socket(server) as ws:
            await ws.send(json.dumps({"type": "auth", "token": refused["token"]}))
            assert await closed_with(ws) == 4401
    for refused_ticket in (ticket, past):  # issued before the logout; past its expiry
        async with await open_socket(server, ticket=refused_ticket) as ws:
            assert await closed_with(ws) == 4401
    async with await open_socket(server, stale["token"]) as ws:  # the ticket's token itself is still good
        assert (await next_frame(ws))["type"] == "hello"


async def test_logout_closes_open_sockets_of_that_token(server: Server) -> None:
    renter = await register(server)
    second = (
        await call(
            server,
            "POST",
            "/api/auth/login",
            json={"email": renter["user"]["email"], "password": "correct horse battery"},
        )
    ).json()
    ticket = (await call(server, "POST", "/api/realtime/ticket", renter["token"])).json()["ticket"]
    async with (
        await open_socket(server, renter["token"]) as direct,
        await open_socket(server, ticket=ticket) as via_ticket,
        await open_socket(server, second["token"]) as other,
    ):
        for ws in (direct, via_ticket, other):
            await next_frame(ws, "hello")
        assert (await call(server, "POST", "/api/auth/logout", renter["token"])).status_code == 200
        assert await closed_with(direct) == 4401
        assert await closed_with(via_ticket) == 4401
        await other.send(json.dumps({"type": "ping"}))
        assert (await next_frame(other, "pong"))["type"] == "pong"


async def test_a_socket_closes_when_its_token_expires(server: Server) -> None:
    renter = await register(server)
    now = int(time.time())
    short = jwt.encode({"sub": renter["user_id"], "jti": str(uuid.uuid4()), "iat": now, "exp": now + 2}, DEV_JWT_SECRET)
    async with await open_socket(server, short) as ws:
        await next_frame(ws, "hello")
        assert await closed_with(ws) == 4401


async def test_a_ticket_socket_lives_as_long_as_the_token_not_the_ticket(server: Server, database_url: str) -> None:
    """The ticket is spent on connecting; the socket then answers to the token it stood for."""
    renter = await register(server)
    ticket = (await call(server, "POST", "/api/realtime/ticket", renter["token"])).json()["ticket"]
    soon = utcnow() + timedelta(seconds=2)

    async def expire_soon(session: AsyncSession) -> None:
        await session.execute(
            update(RealtimeTicket).where(RealtimeTicket.user_id == renter["user_id"]).values(expires_at=soon)
        )

    await run_sql(database_url, expire_soon)
    async with await open_socket(server, ticket=ticket) as ws:
        await next_frame(ws, "hello")
        await asyncio.sleep((soon - utcnow()).total_seconds() + 1)
        await ws.send(json.dumps({"type": "ping"}))
        assert (await next_frame(ws, "pong"))["type"] == "pong"


async def test_a_revocation_that_published_nothing_closes_its_sockets_at_the_next_recheck(tmp_path: Path) -> None:
    """A logout whose process died between its commit and its publish, and a user deactivated in the database:
    no event comes, and the process's periodic read of its sockets' tokens closes them with 4401."""
    env = server_env(database_for(tmp_path), REDIS_URL or "memory://", tmp_path / "uploads")
    server = Server(env | {"WS_TOKEN_RECHECK_SECONDS": "1"}).start()
    try:
        logged_out, deactivated = await register(server), await register(server)
        credentials = {"email": logged_out["user"]["email"], "password": TEST_PASSWORD}
        second = (await call(server, "POST", "/api/auth/login", json=credentials)).json()
        claims = decode_token(logged_out["token"], DEV_JWT_SECRET)

        async def as_a_lost_logout_and_an_operator_would(session: AsyncSession) -> None:
            session.add(RevokedToken(jti=claims.jti, user_id=claims.user_id, expires_at=claims.expires_at))
            await session.execute(update(User).where(User.id == deactivated["user_id"]).values(is_active=False))

        async with (
            await open_socket(server, logged_out["token"]) as revoked_ws,
            await open_socket(server, deactivated["token"]) as inactive_ws,
            await open_socket(server, second["token"]) as kept_ws,
        ):
            for ws in (revoked_ws, inactive_ws, kept_ws):
                await next_frame(ws, "hello")
            await run_sql(server.env["DATABASE_URL"], as_a_lost_logout_and_an_operator_would)
            assert await closed_with(revoked_ws, timeout=5) == 4401
            assert await closed_with(inactive_ws, timeout=5) == 4401
            await asyncio.sleep(1.5)  # another recheck or two: the user's other token is still good
            await kept_ws.send(json.dumps({"type": "ping"}))
            assert (await next_frame(kept_ws, "pong"))["type"] == "pong"
    finally:
        server.stop()


def leave_right_after_upgrading(server: Server, token: str) -> None:
    """Send an authenticated upgrade request and reset the connection before anything comes back."""
    raw = socket.create_connection(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    raw.close()


async def test_a_client_that_leaves_while_connecting_is_no_error(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = Server(server_env(database_for(tmp_path), REDIS_URL or "memory://", tmp_path / "uploads"), log=log).start()
    try:
        renter = await register(server)
        for _ in range(10):
            await asyncio.to_thread(leave_right_after_upgrading, server, renter["token"])
        await asyncio.sleep(1)
        async with await open_socket(server, renter["token"]) as ws:  # and the server serves on
            assert (await next_frame(ws))["type"] == "hello"
    finally:
        server.stop()
    output = log.read_text()
    assert "Traceback" not in output and "database failed" not in output, output
