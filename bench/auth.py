"""Does a burst of logins slow down everyone else? Health latency alone and under 20 concurrent logins.

A login costs one bcrypt check, about 250 ms of CPU at cost 12. `auth/passwords.py`
runs bcrypt in worker threads and caps how many hash at once below the core count,
so that a burst of logins queues for a hashing thread instead of taking every core
from the event loop that serves everyone else. This script checks that promise
end to end, against a real uvicorn process on a real database:

1. `GET /api/health` (a database ping and a broadcast ping: the cheapest request
   that still touches the database) is timed alone, sequentially over one
   keep-alive connection: the baseline.
2. The same number of requests is timed again while 20 clients log in
   continuously, each logging in again as soon as its previous login answers.

The verdict is a ratio against the baseline of the same run on the same machine:
the target is a health p99 under logins less than twice the p99 alone. The client
runs on the same machine as the server, and the script reports how much CPU other
processes took meanwhile: on a busy machine the ratio measures them, not Homer.

Run by hand (never collected by pytest), from anywhere:

    python bench/auth.py
    python bench/auth.py --database-url mysql+asyncmy://root@127.0.0.1:3306/test

On MariaDB it uses whatever database the URL names and only adds users with
random emails and phones, so it can be re-run on a database that others use.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import cpu_seconds, other_cores  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parent.parent
BCRYPT_ROUNDS = 12  # the production default: a login costs here what it costs in production
WARMUP_REQUESTS = 50
TARGET_P99_RATIO = 2.0
# The lifespan hashes a dummy password at the real cost before the first request.
STARTUP_TIMEOUT_SECONDS = 60.0
# 20 logins queued behind one hashing thread wait about 5 s each; leave a wide margin.
LOGIN_TIMEOUT_SECONDS = 120.0
HEALTH_TIMEOUT_SECONDS = 30.0
# uvicorn closes a keep-alive connection after 5 idle seconds: the health one never idles that long.
KEEP_WARM_SECONDS = 1.0
# Other processes using more than this (in cores) make the ratio say more about them than about Homer.
BUSY_MACHINE_CORES = 0.2


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


@dataclass
class LoginLog:
    """Every login answer as (latency, status), and a way to wait for the nth."""

    answers: list[tuple[float, int]] = field(default_factory=list)
    _waiting: tuple[int, asyncio.Event] | None = None

    def add(self, latency: float, status: int) -> None:
        self.answers.append((latency, status))
        if self._waiting and len(self.answers) >= self._waiting[0]:
            self._waiting[1].set()

    async def wait_for(self, count: int) -> None:
        if len(self.answers) < count:
            self._waiting = (count, asyncio.Event())
            await self._waiting[1].wait()


@dataclass(frozen=True)
class Window:
    latencies: list[float]
    others: float | None  # cores that other processes used meanwhile; None where /proc is missing


@dataclass(frozen=True)
class Results:
    alone: Window
    loaded: Window
    logins: list[float]  # latencies of the successful logins in the login window
    login_statuses: Counter[int]
    login_seconds: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", help="default: SQLite in a fresh temporary directory")
    parser.add_argument("--broadcast-url", default="memory://")
    parser.add_argument("--requests", type=int, default=300, help="health requests per measurement")
    parser.add_argument("--logins", type=int, default=20, help="concurrent login clients")
    return parser.parse_args(argv)


def server_env(args: argparse.Namespace, scratch: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": args.database_url or f"sqlite+aiosqlite:///{scratch / 'homer.db'}",
        "BROADCAST_URL": args.broadcast_url,
        "BCRYPT_ROUNDS": str(BCRYPT_ROUNDS),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "UPLOAD_DIR": str(scratch / "uploads"),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(command, cwd=PROJECT_DIR, env=env)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


async def wait_until_healthy(base_url: str, server: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if (await client.get("/api/health")).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    return False


def new_user() -> dict[str, str]:
    # Random, so that re-runs on a shared MariaDB database do not collide with earlier users.
    return {
        "email": f"bench-{secrets.token_hex(8)}@example.com",
        "phone": "9" + "".join(secrets.choice("0123456789") for _ in range(9)),
        "password": secrets.token_urlsafe(12),
        "user_type": "renter",
        "full_name": "Bench User",
    }


async def register_one(client: httpx.AsyncClient, attempts: int = 5) -> Credentials:
    for _ in range(attempts):
        user = new_user()
        response = await client.post("/api/auth/register", json=user)
        if response.status_code == 201:
            return Credentials(user["email"], user["password"])
        if response.status_code != 400:  # 400: the random phone is taken already; draw another
            break
    raise RuntimeError(f"registration failed: {response.status_code} {response.text}")


async def register_users(client: httpx.AsyncClient, count: int) -> list[Credentials]:
    return list(await asyncio.gather(*(register_one(client) for _ in range(count))))


async def time_health(client: httpx.AsyncClient, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        response = await client.get("/api/health")
        latencies.append(time.perf_counter() - start)
        response.raise_for_status()
    return latencies


async def measure_health(client: httpx.AsyncClient, count: int, server_pid: int) -> Window:
    before, start = cpu_seconds([server_pid]), time.perf_counter()
    latencies = await time_health(client, count)
    after, seconds = cpu_seconds([server_pid]), time.perf_counter() - start
    return Window(latencies, other_cores(before, after, seconds))


async def keep_warm(client: httpx.AsyncClient, until: Awaitable[None]) -> None:
    done = asyncio.ensure_future(until)
    while not done.done():
        (await client.get("/api/health")).raise_for_status()
        await asyncio.wait({done}, timeout=KEEP_WARM_SECONDS)
    await done


async def keep_logging_in(client: httpx.AsyncClient, user: Credentials, log: LoginLog) -> None:
    body = {"email": user.email, "password": user.password}
    while True:
        start = time.perf_counter()
        response = await client.post("/api/auth/login", json=body)
        log.add(time.perf_counter() - start, response.status_code)
        if response.status_code != 200:
            await asyncio.sleep(1)  # a 429 answers at once: never hammer a server that refuses


async def time_health_under_logins(
    health: httpx.AsyncClient, logins: httpx.AsyncClient, users: list[Credentials], count: int, server_pid: int
) -> tuple[Window, list[tuple[float, int]], float]:
    """Health under load, and the login answers of the login window with its length in seconds.

    The login window opens with the health measurement and closes once that is over
    and one more round of logins has answered: at the defaults the health requests
    take about a second, and each login (queued behind the 19 others) about five.
    """
    log = LoginLog()
    tasks = [asyncio.create_task(keep_logging_in(logins, user, log)) for user in users]
    try:
        # One full round first: from then on every client has a login queued or hashing.
        await keep_warm(health, log.wait_for(len(users)))
        first, start = len(log.answers), time.perf_counter()
        window = await measure_health(health, count, server_pid)
        await log.wait_for(first + len(users))
        seconds = time.perf_counter() - start
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return window, log.answers[first:], seconds


async def measure(base_url: str, args: argparse.Namespace, server_pid: int) -> Results:
    one_connection = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    many = httpx.Limits(max_connections=args.logins, max_keepalive_connections=args.logins)
    async with (
        httpx.AsyncClient(base_url=base_url, limits=one_connection, timeout=HEALTH_TIMEOUT_SECONDS) as health,
        httpx.AsyncClient(base_url=base_url, limits=many, timeout=LOGIN_TIMEOUT_SECONDS) as logins,
    ):
        users = await register_users(logins, args.logins)
        await time_health(health, WARMUP_REQUESTS)
        alone = await measure_health(health, args.requests, server_pid)
        loaded, answers, seconds = await time_health_under_logins(health, logins, users, args.requests, server_pid)
    succeeded = [latency for latency, status in answers if status == 200]
    return Results(alone, loaded, succeeded, Counter(status for _, status in answers), seconds)


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def bcrypt_seconds(rounds: int) -> float:
    hashed = bcrypt.hashpw(b"benchmark-password", bcrypt.gensalt(rounds))
    start = time.perf_counter()
    bcrypt.checkpw(b"benchmark-password", hashed)
    return time.perf_counter() - start


def report(results: Results, args: argparse.Namespace, database_url: str) -> None:
    alone = [percentile(results.alone.latencies, q) * 1000 for q in (50, 99)]
    loaded = [percentile(results.loaded.latencies, q) * 1000 for q in (50, 99)]
    ratios = [under / base for under, base in zip(loaded, alone)]
    logins = [percentile(results.logins, q) * 1000 for q in (50, 99)]
    rate = len(results.logins) / results.login_seconds
    database = make_url(database_url).render_as_string(hide_password=True)
    check_ms = bcrypt_seconds(BCRYPT_ROUNDS) * 1000
    print(f"\ndatabase {database}, broadcast {args.broadcast_url}")
    print(f"cores {os.cpu_count()}, bcrypt cost {BCRYPT_ROUNDS} ({check_ms:.0f} ms a check)")
    print(f"{args.requests} health requests each, {args.logins} concurrent login clients\n")
    print(f"{'':32}{'p50':>9}{'p99':>9}")
    print(f"{'health alone (ms)':32}{alone[0]:9.2f}{alone[1]:9.2f}")
    print(f"{f'health under {args.logins} logins (ms)':32}{loaded[0]:9.2f}{loaded[1]:9.2f}")
    print(f"{'ratio under / alone':32}{ratios[0]:9.2f}{ratios[1]:9.2f}")
    print(f"{'login (ms)':32}{logins[0]:9.0f}{logins[1]:9.0f}\n")
    print(f"logins/s {rate:.2f} ({len(results.logins)} logins in {results.login_seconds:.1f} s)", end="")
    print(f", answers by status {dict(sorted(results.login_statuses.items()))}")
    report_background(results.alone.others, results.loaded.others)
    verdict = "met" if ratios[1] < TARGET_P99_RATIO else "NOT met"
    print(f"target: health p99 ratio under {TARGET_P99_RATIO:g}: {verdict} ({ratios[1]:.2f})")


def report_background(alone: float | None, loaded: float | None) -> None:
    if alone is None or loaded is None:
        return
    print(f"other processes used {alone:.2f} cores during the baseline, {loaded:.2f} under logins")
    if max(alone, loaded) > BUSY_MACHINE_CORES:
        print("warning: the machine was busy with other work; re-run on a quiet machine before trusting the ratio")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="homer-bench-") as scratch:
        env = server_env(args, Path(scratch))
        port = free_port()
        server = start_server(env, port)
        try:
            base_url = f"http://127.0.0.1:{port}"
            if not asyncio.run(wait_until_healthy(base_url, server)):
                print(f"the server did not answer 200 on {base_url}/api/health", file=sys.stderr)
                return 1
            results = asyncio.run(measure(base_url, args, server.pid))
        finally:
            stop_server(server)
    report(results, args, env["DATABASE_URL"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
