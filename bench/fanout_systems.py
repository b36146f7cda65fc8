"""bench/fanout.py's two systems: Homer's and the relay's processes and sockets, and each window's tally.

Each system is a list of endpoints, two per renter-owner pair with the pair's
sockets on different processes, and a reader task per socket that records
when the counterpart's copy of each benchmark message arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.homer_setup import homer_socket  # noqa: E402
from tests.live import PROJECT, UVICORN_WS, Server  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"
PAIRS = 100


@dataclass
class Endpoint:
    """One socket of the benchmark: who it is, where it sends, what it has received."""

    ws: ClientConnection
    index: int
    frame: Callable[[str, float], str]  # (message id, sent at) -> the frame to send to the counterpart


@dataclass
class Window:
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    # Homer only: from just before a send to its ack, i.e. stored and answered, before any fan-out.
    acks: list[float] = field(default_factory=list)
    expected: dict[str, int] = field(default_factory=dict)  # message id -> receiving endpoint's index
    sending: float = 0.0  # seconds the client took to send them: above rate * seconds, it fell behind
    # From the first send to the end of the drain: wall seconds, and the CPU seconds used by both server
    # processes (`cpu`), this client, MariaDB and Redis, which share the machine's cores.
    seconds: float = 0.0
    cpu: float = 0.0
    client_cpu: float = 0.0
    database_cpu: float = 0.0
    redis_cpu: float = 0.0

    @property
    def paced(self) -> str:
        return f"sent at {self.sent / self.sending:.0f}/s" if self.sending else ""

    @property
    def lost(self) -> int:
        return self.sent - len(self.latencies)

    @property
    def cpu_ms(self) -> float:
        """Server CPU per message sent, ms."""
        return self.cpu / self.sent * 1000

    @property
    def cores(self) -> str:
        """Where the CPU went, in cores: the servers, this client, MariaDB, Redis, and all four together."""
        if not self.seconds:
            return ""
        shares = (self.cpu, self.client_cpu, self.database_cpu, self.redis_cpu)
        servers, client, database, redis = (cpu / self.seconds for cpu in shares)
        return (
            f"cores: servers {servers:.2f}, client {client:.2f}, MariaDB {database:.2f}, Redis {redis:.2f};"
            f" {servers + client + database + redis:.2f} of {os.cpu_count()}"
        )

    def add(self, other: Window) -> None:
        """Pool another window's messages into this one's figures."""
        self.sent += other.sent
        self.seconds += other.seconds
        self.cpu += other.cpu
        self.client_cpu += other.client_cpu
        self.database_cpu += other.database_cpu
        self.redis_cpu += other.redis_cpu
        self.latencies += other.latencies
        self.acks += other.acks


@dataclass
class System:
    name: str
    pids: list[int]
    endpoints: list[Endpoint]  # two per pair: even index on one process, odd on the other
    open_idle: Callable[[int], Awaitable[ClientConnection]]
    window: Window = field(default_factory=Window)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    def receive(self, index: int, message_id: str, sent_at: float) -> None:
        # Homer also delivers each message to the sender's own socket; only the counterpart's copy counts,
        # and the sender's echo must not use up the entry when it happens to land first.
        if self.window.expected.get(message_id) == index:
            del self.window.expected[message_id]
            self.window.latencies.append(time.monotonic() - sent_at)


# ---- processes


def start_relay(port: int) -> subprocess.Popen[bytes]:
    # The same uvicorn options as Homer's processes (tests/live.py), so that only the apps differ.
    command = [sys.executable, "-m", "uvicorn", "--app-dir", "bench", "relay_app:app", *UVICORN_WS]
    command += ["--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=PROJECT, env=os.environ | {"RELAY_BROADCAST_URL": REDIS_URL})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("relay did not start")


# ---- the two systems' sockets


async def homer_system(
    servers: list[Server], pairs: list[tuple[dict[str, Any], dict[str, Any], str]], idle_tokens: list[str]
) -> System:
    endpoints: list[Endpoint] = []
    for i, (renter, owner, chat_id) in enumerate(pairs):
        here, there = (servers[0], servers[1]) if i % 2 == 0 else (servers[1], servers[0])
        for server, user in ((here, renter), (there, owner)):

            def frame(message_id: str, sent_at: float, chat_id: str = chat_id) -> str:
                body = {"type": "send", "chat_id": chat_id, "message": f"{message_id} {sent_at!r}"}
                return json.dumps(body | {"client_id": message_id})

            endpoints.append(Endpoint(await homer_socket(server, user["token"]), len(endpoints), frame))

    async def open_idle(n: int) -> ClientConnection:
        return await homer_socket(servers[n % 2], idle_tokens[n])

    pids = [server.process.pid for server in servers if server.process]
    system = System("homer", pids, endpoints, open_idle)
    system.readers = [asyncio.create_task(quietly(read_homer(system, e))) for e in endpoints]
    return system


async def quietly(reading: Awaitable[None]) -> None:
    with contextlib.suppress(ConnectionClosed):  # the server closed it: what it did not deliver counts as lost
        await reading


async def read_homer(system: System, endpoint: Endpoint) -> None:
    async for raw in endpoint.ws:
        frame = json.loads(raw)
        if frame["type"] in ("message", "ack"):
            message_id, _, sent_at = frame["message"]["message"].partition(" ")
            if not sent_at:
                continue  # a chat's first message, from the set-up
            if frame["type"] == "message":
                system.receive(endpoint.index, message_id, float(sent_at))
            else:
                system.window.acks.append(time.monotonic() - float(sent_at))
        elif frame["type"] == "error":
            print(f"  homer error frame: {frame}", file=sys.stderr)


async def relay_socket(port: int, channel: str) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{port}/ws?channel={channel}", open_timeout=30, max_queue=None)
    await asyncio.wait_for(ws.recv(), 30)  # "ready": subscribed
    return ws


async def relay_system(ports: list[int], pids: list[int]) -> System:
    endpoints: list[Endpoint] = []
    for i in range(PAIRS):
        here, there = (ports[0], ports[1]) if i % 2 == 0 else (ports[1], ports[0])
        for port, me, other in ((here, f"r{i}", f"o{i}"), (there, f"o{i}", f"r{i}")):

            def frame(message_id: str, sent_at: float, to: str = other) -> str:
                return json.dumps({"to": to, "id": message_id, "t": sent_at})

            endpoints.append(Endpoint(await relay_socket(port, me), len(endpoints), frame))

    async def open_idle(n: int) -> ClientConnection:
        return await relay_socket(ports[n % 2], f"idle{n}")

    system = System("relay", pids, endpoints, open_idle)
    system.readers = [asyncio.create_task(quietly(read_relay(system, e))) for e in endpoints]
    return system


async def read_relay(system: System, endpoint: Endpoint) -> None:
    async for raw in endpoint.ws:
        frame = json.loads(raw)
        system.receive(endpoint.index, frame["id"], frame["t"])


async def close_system(system: System) -> None:
    await asyncio.sleep(0)  # readers that never ran (--memory-only) must start before they are cancelled
    for task in system.readers:
        task.cancel()
    await asyncio.gather(*system.readers, return_exceptions=True)
    await asyncio.gather(*(e.ws.close() for e in system.endpoints), return_exceptions=True)
