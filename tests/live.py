"""Real server processes and real WebSocket clients, for the tests where in-process is not enough."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import PerMessageDeflate

from persistence.engine import make_sessionmaker, short_lived_engine
from persistence.models import Property, User
from realtime.mailbox import Mailbox
from realtime.protocol import UVICORN_OPTION

PROJECT = Path(__file__).resolve().parent.parent
TEST_PASSWORD = "correct horse battery"
ORIGIN = "http://localhost:5173"
# The statement of chats.counterpart_ids (whom hello and a resync's presence recheck read), for a test that
# holds its answer at a database proxy (`TcpProxy.hold_reply`).
COUNTERPARTS_READ = b"SELECT DISTINCT CASE WHEN"
# As in the Procfile: the WebSocket protocol production runs, so that tests and benchmarks exercise it.
UVICORN_WS = ["--ws", UVICORN_OPTION]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A uvicorn process serving the app, on its own port."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None  # where the server's output goes (default: the test run's)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 30) -> Server:
        command = [sys.executable, "-m", "uvicorn", "main:app", *UVICORN_WS, "--port", str(self.port)]
        command += ["--log-level", "warning"]
        output = self.log.open("ab") if self.log else None
        self.process = subprocess.Popen(command, cwd=PROJECT, env=os.environ | self.env, stdout=output, stderr=output)
        if output:
            output.close()  # the server holds its own copy
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.http}/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become healthy")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@asynccontextmanager
async def started_in_thread(*envs: dict[str, str]) -> AsyncIterator[list[Server]]:
    """Servers started and stopped from a thread, for tests whose proxy forwards their traffic from this loop.

    `Server.start` waits for health synchronously: called on the loop, it would stall the proxy it waits on.
    """
    started: list[Server] = []
    try:
        for env in envs:
            started.append(await asyncio.to_thread(Server(env).start))
        yield started
    finally:
        for server in started:
            await asyncio.to_thread(server.stop)


class RedisServer:
    """A private redis-server on a loopback port, stopped, paused and started by PID.

    Tests that break Redis use their own, never the machine's shared one.
    """

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await wait_until_listening(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


async def wait_until_listening(port: int, process: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            assert process.poll() is None, f"process on port {port} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"nothing listens on port {port} after {seconds}s"
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return


def server_env(database_url: str, broadcast_url: str, upload_dir: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "BROADCAST_URL": broadcast_url,
        "UPLOAD_DIR": str(upload_dir),
        "BCRYPT_ROUNDS": "4",
        "CORS_ORIGINS": ORIGIN,
        "APP_ENV": "test",
    }


_counter = iter(range(10**6))


async def register(server: Server, user_type: str = "renter", **fields: Any) -> dict[str, Any]:
    n = next(_counter)
    stamp = f"{os.getpid() % 1000:03d}{n:05d}"
    body = {
        "email": f"live{stamp}-{time.time_ns()}@example.in",
        # Random digits: benchmark databases keep their users from run to run, and process ids repeat.
        "phone": f"+44{secrets.randbelow(10**10):010d}",
        "password": TEST_PASSWORD,
        "user_type": user_type,
        "full_name": f"Live {user_type} {n}",
    } | fields
    async with httpx.AsyncClient(base_url=server.http) as http:
        r = await http.post("/api/auth/register", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(server: Server, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = bearer(token) if token else {}
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as http:
        return await http.request(method, path, headers=headers, **kwargs)


async def open_socket(
    server: Server, token: str | None = None, *, ticket: str | None = None, **kwargs: Any
) -> ClientConnection:
    """A connected client: a token goes in the Authorization header, a ticket in the URL."""
    headers = bearer(token) if token else None
    url = f"{server.ws}?ticket={ticket}" if ticket else server.ws
    return await connect(url, additional_headers=headers, open_timeout=10, **kwargs)


def deflate_of(ws: ClientConnection) -> PerMessageDeflate:
    """The socket's negotiated permessage-deflate; fails when the handshake agreed on none."""
    (extension,) = ws.protocol.extensions
    assert isinstance(extension, PerMessageDeflate)
    return extension


async def next_frame(ws: ClientConnection, kind: str | None = None, timeout: float = 10) -> dict[str, Any]:
    """The next frame (of `kind`, skipping others such as presence or badge)."""
    deadline = time.monotonic() + timeout
    while True:
        raw = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        frame: dict[str, Any] = json.loads(raw)
        if kind is None or frame["type"] == kind:
            return frame


async def frames_for(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """Every frame the socket gets in the next `seconds`."""
    frames: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                frames.append(json.loads(await ws.recv()))
    return frames


async def frames_until(ws: ClientConnection, kind: str, timeout: float = 10) -> list[dict[str, Any]]:
    """Every frame up to and including the first of `kind`."""
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["type"] != kind:
        seen.append(await next_frame(ws, timeout=timeout))
    return seen


async def message_at(ws: ClientConnection, seq: int, timeout: float = 10) -> dict[str, Any]:
    """The `message` frame with this seq, passing over earlier ones."""
    while True:
        message: dict[str, Any] = (await next_frame(ws, "message", timeout))["message"]
        if message["seq"] >= seq:
            assert message["seq"] == seq, f"expected seq {seq}, got {message['seq']}"
            return message


async def drop_all_tables(url: str) -> None:
    """Drop every table and stored procedure of a MariaDB database, whatever references what."""
    async with short_lived_engine(url) as engine, engine.begin() as connection:
        procedures = await connection.execute(text("SHOW PROCEDURE STATUS WHERE Db = DATABASE()"))
        for name in [row.Name for row in procedures]:
            await connection.execute(text(f"DROP PROCEDURE `{name}`"))
        names = (await connection.execute(text("SHOW TABLES"))).scalars().all()
        await connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        for name in names:
            await connection.execute(text(f"DROP TABLE `{name}`"))
        await connection.execute(text("SET FOREIGN_KEY_CHECKS = 1"))


async def run_sql(url: str, work: Callable[[AsyncSession], Any]) -> None:
    """Direct database work for test setup, in its own short-lived engine."""
    async with short_lived_engine(url) as engine, make_sessionmaker(engine).begin() as session:
        result = work(session)
        if inspect.isawaitable(result):
            await result


async def mark_verified(url: str, property_id: str) -> None:
    """Mark a listing verified as an admin's review would: through the ORM, so its words follow."""

    async def verify(session: AsyncSession) -> None:
        prop = await session.get(Property, property_id)
        assert prop is not None
        prop.is_verified = True

    await run_sql(url, verify)


async def post_messages(server: Server, user: dict[str, Any], chat_id: str, seqs: range) -> None:
    """Messages "m<seq>" sent by REST, each checked to get the seq it is named for."""
    for n in seqs:
        r = await call(server, "POST", f"/api/chats/{chat_id}/messages", user["token"], json={"message": f"m{n}"})
        assert r.status_code == 201 and r.json()["seq"] == n, r.text


async def set_premium(url: str, user_id: str, days: int = 30) -> None:
    """Give a user a premium subscription ending in `days` (negative: one that has lapsed)."""
    end = datetime.now(UTC) + timedelta(days=days)
    await run_sql(
        url,
        lambda s: s.execute(
            update(User).where(User.id == user_id).values(subscription_tier="premium", subscription_end=end)
        ),
    )


async def make_property(server: Server, owner: dict[str, Any]) -> str:
    body = {
        "title": "3BHK with a view of Cubbon Park",
        "property_type": "apartment",
        "bhk_type": "3BHK",
        "rent": 48000,
        "location": {"city": "Bengaluru", "locality": "Shivajinagar"},
    }
    r = await call(server, "POST", "/api/properties/create", owner["token"], json=body)
    assert r.status_code == 201, r.text
    return r.json()["property_id"]  # type: ignore[no-any-return]


def property_row(owner_id: str, **fields: Any) -> dict[str, Any]:
    """An active listing as a row for Core inserts: every column the database requires, then `fields`.

    For tests that need thousands of listings; one by one through the API would take minutes.
    """
    now = datetime.now(UTC)
    required: dict[str, Any] = {"id": str(uuid.uuid4()), "owner_id": owner_id, "title": "Listing", "description": ""}
    required |= {"property_type": "apartment", "bhk_type": "2BHK", "rent": Decimal(20000)}
    required |= {"security_deposit": Decimal(0), "maintenance_charges": Decimal(0)}
    required |= {"address": "", "city": "", "state": "", "pincode": "", "locality": ""}
    required |= {"is_verified": False, "verification_fee_paid": False, "status": "active"}
    required |= {"total_views": 0, "premium_views": 0, "total_contacts": 0, "shortlisted_count": 0}
    return required | {"created_at": now, "updated_at": now} | fields


async def chat_between(server: Server, database_url: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A renter and an owner with one chat (seq 1 is the renter's first message)."""
    owner = await register(server, "owner")
    renter = await register(server, "renter")
    property_id = await make_property(server, owner)
    r = await call(
        server,
        "POST",
        "/api/chats/initiate",
        renter["token"],
        json={"property_id": property_id, "initial_message": "Hi"},
    )
    assert r.status_code == 200, r.text
    return owner, renter, r.json()["chat_id"]


async def chat_with_sockets(server: Server, database_url: str) -> tuple[str, ClientConnection, ClientConnection]:
    """A chat, and a socket of its renter and of its owner, both past their hello."""
    owner, renter, chat_id = await chat_between(server, database_url)
    renter_ws, owner_ws = await open_socket(server, renter["token"]), await open_socket(server, owner["token"])
    for ws in (renter_ws, owner_ws):
        await next_frame(ws, "hello")
    return chat_id, renter_ws, owner_ws


async def closed_with(ws: ClientConnection, timeout: float = 10) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def send_frame(chat_id: str, text: str, client_id: str | None = None, **extra: Any) -> str:
    return json.dumps(
        {"type": "send", "chat_id": chat_id, "message": text, "client_id": client_id or str(uuid.uuid4())} | extra
    )


async def receive(mailbox: Mailbox, count: int, seconds: float = 5.0) -> list[Any]:
    """The `n` of the next `count` test events, skipping nothing."""
    async with asyncio.timeout(seconds):
        return [(await mailbox.get())["n"] for _ in range(count)]


async def drain_hello(*sockets: ClientConnection) -> None:
    for ws in sockets:
        await next_frame(ws, "hello")


@asynccontextmanager
async def renter_and_owner(
    first: Server, second: Server, renter: dict[str, Any], owner: dict[str, Any]
) -> AsyncIterator[tuple[ClientConnection, ClientConnection]]:
    """The renter's socket on the first process and the owner's on the second, past their hellos."""
    async with (
        await open_socket(first, renter["token"]) as renter_ws,
        await open_socket(second, owner["token"]) as owner_ws,
    ):
        await drain_hello(renter_ws, owner_ws)
        yield renter_ws, owner_ws
