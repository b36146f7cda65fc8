"""Fixtures: a real app on a real database and broadcast backend.

SQLite (a fresh file per test) and `memory://` by default; set
TEST_DATABASE_URL=mysql+asyncmy://... and TEST_REDIS_URL=redis://... to run the
same tests on MariaDB and Redis.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from main import create_app
from persistence.engine import create_schema, short_lived_engine
from persistence.models import Base
from persistence.words import stale
from settings import Settings
from tests.live import TEST_PASSWORD, RedisServer, Server, bearer, drop_all_tables, server_env, started_in_thread
from tests.tcp_proxy import TcpProxy, proxying

MYSQL_URL = os.environ.get("TEST_DATABASE_URL", "")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the failures
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


def database_for(folder: Path) -> str:
    """The suite's MariaDB when TEST_DATABASE_URL is set, else a SQLite file of its own in `folder`."""
    return MYSQL_URL or f"sqlite+aiosqlite:///{folder / 'homer.db'}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("mysql") and not MYSQL_URL.startswith("mysql"):
            item.add_marker(pytest.mark.skip(reason="needs TEST_DATABASE_URL=mysql+asyncmy://..."))
        if item.get_closest_marker("redis") and not REDIS_URL:
            item.add_marker(pytest.mark.skip(reason="needs TEST_REDIS_URL=redis://..."))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_for(tmp_path),
        broadcast_url=REDIS_URL or "memory://",
        upload_dir=tmp_path / "uploads",
        bcrypt_rounds=4,  # the lowest cost: tests check behaviour, not hashing strength
    )


@pytest.fixture(scope="session", autouse=True)
def fresh_mysql_schema() -> None:
    """Drop every table once per run, so MariaDB gets today's schema.sql."""
    if MYSQL_URL:
        asyncio.run(drop_all_tables(MYSQL_URL))


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and an HTTP client talking to it in-process."""
    await empty_tables(settings.database_url)
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings) as http:
        yield http
    # Whatever the test did to listings, through whichever handler, their words followed.
    async with short_lived_engine(settings.database_url) as engine, engine.connect() as connection:
        assert await connection.run_sync(stale) == [], "listings whose words were not reindexed"


async def empty_tables(url: str) -> None:
    """MariaDB keeps one database across tests; each test starts with empty tables."""
    if not url.startswith("mysql"):
        return
    async with short_lived_engine(url) as engine:
        await create_schema(engine)
        async with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(delete(table))


Register = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def register(client: httpx.AsyncClient) -> Register:
    """Register a user through the API; returns the response body (token, user)."""
    counter = iter(range(10_000))

    async def make(**fields: Any) -> dict[str, Any]:
        n = next(counter)
        body = {
            "email": f"user{n}@example.in",
            "phone": f"98{n:08d}",
            "password": TEST_PASSWORD,
            "user_type": "renter",
            "full_name": f"Test User {n}",
        } | fields
        response = await client.post("/api/auth/register", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    return make


async def send(client: httpx.AsyncClient, user: dict[str, Any], chat_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"/api/chats/{chat_id}/messages", json=body, headers=bearer(user["token"]))


def initiate(client: httpx.AsyncClient, user: dict[str, Any], property_id: str, renter_id: str | None) -> Any:
    """The renter's /initiate, or with `renter_id` the owner's /initiate-with-renter."""
    body = {"property_id": property_id, "initial_message": f"Hello from {user['user_id']}"}
    path = "/api/chats/initiate" if renter_id is None else "/api/chats/initiate-with-renter"
    body |= {} if renter_id is None else {"renter_id": renter_id}
    return client.post(path, json=body, headers=bearer(user["token"]))


async def unread(client: httpx.AsyncClient, user: dict[str, Any]) -> int:
    """The user's unread message count over all chats, by REST."""
    return (await client.get("/api/chats/unread-count", headers=bearer(user["token"]))).json()["unread_count"]  # type: ignore[no-any-return]


async def open_chat(client: httpx.AsyncClient, renter: dict[str, Any], property_id: str, text: str = "Hello") -> str:
    """A renter opens a chat about a property through the API; returns its id."""
    r = await client.post(
        "/api/chats/initiate",
        json={"property_id": property_id, "initial_message": text},
        headers=bearer(renter["token"]),
    )
    assert r.status_code == 200, r.text
    return r.json()["chat_id"]  # type: ignore[no-any-return]


MakeProperty = Callable[..., Awaitable[str]]


def listing(**fields: Any) -> dict[str, Any]:
    """A valid create-property body; `fields` override its top-level keys."""
    return {
        "title": "2BHK near Indiranagar metro",
        "description": "Bright flat, five minutes from the metro, covered parking.",
        "property_type": "apartment",
        "bhk_type": "2BHK",
        "rent": 25000,
        "security_deposit": 100000,
        "location": {"city": "Bengaluru", "locality": "Indiranagar", "latitude": 12.9784, "longitude": 77.6408},
        "details": {"furnishing": "semi-furnished", "bathrooms": 2},
    } | fields


@pytest.fixture
def make_property(client: httpx.AsyncClient) -> MakeProperty:
    """List a property through the API as `owner` (a register() result); `status="deleted"` deletes it after."""

    async def make(owner: dict[str, Any], status: str = "active", **fields: Any) -> str:
        r = await client.post("/api/properties/create", json=listing(**fields), headers=bearer(owner["token"]))
        assert r.status_code == 201, r.text
        property_id: str = r.json()["property_id"]
        path, headers = f"/api/properties/{property_id}", bearer(owner["token"])
        if status == "deleted":
            assert (await client.delete(path, headers=headers)).status_code == 200
        elif status != "active":
            assert (await client.put(path, json={"status": status}, headers=headers)).status_code == 200
        return property_id

    return make


@pytest.fixture
async def pair(register: Register, make_property: MakeProperty) -> tuple[dict[str, Any], dict[str, Any], str]:
    owner = await register(user_type="owner", full_name="Ravi Owner")
    renter = await register(user_type="renter", full_name="Asha Renter")
    return owner, renter, await make_property(owner, title="Sunny 2BHK in Koramangala")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return database_for(tmp_path_factory.mktemp("live"))


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = server_env(database_url, REDIS_URL or "memory://", tmp_path_factory.mktemp("uploads"))
    live = Server(env).start()
    yield live
    live.stop()


@pytest.fixture
def channel() -> str:
    return f"test-hub:{uuid.uuid4().hex}"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Not started: each test decides when its Redis is up."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server on PATH")
    server = RedisServer(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """Each test gets its own Redis, so no other process on the machine reaps or publishes into it."""
    if not REDIS_URL:
        pytest.skip("needs TEST_REDIS_URL=redis://... (the Redis configuration of the suite)")
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server on PATH")
    redis = RedisServer(tmp_path)
    await redis.start()
    yield redis
    redis.stop()


@pytest.fixture
async def redis_proxy(private_redis: RedisServer) -> AsyncIterator[TcpProxy]:
    """A proxy in front of the private Redis, for a process whose replies a test holds back."""
    async with proxying("127.0.0.1", private_redis.port) as proxy:
        yield proxy


@pytest.fixture
def pair_of_servers(tmp_path: Path, private_redis: RedisServer) -> Iterator[tuple[Server, Server, str]]:
    """Two processes sharing one database and one Redis."""
    database = database_for(tmp_path)
    env = server_env(database, private_redis.url, tmp_path / "uploads")
    first = Server(env).start()
    second = Server(env).start()
    yield first, second, database
    first.stop()
    second.stop()


@pytest.fixture
async def database_proxy() -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of MariaDB that a test can cut and restore (`through` gives its URL)."""
    target = make_url(MYSQL_URL)
    async with proxying(target.host or "127.0.0.1", target.port or 3306) as proxy:
        yield proxy


@pytest.fixture
async def proxied_server(tmp_path: Path, database_proxy: TcpProxy) -> AsyncIterator[Server]:
    """A uvicorn process that reaches MariaDB through `database_proxy`, with in-process fan-out."""
    async with started_in_thread(server_env(through(database_proxy), "memory://", tmp_path / "uploads")) as (started,):
        yield started


def through(proxy: TcpProxy, **query: str) -> str:
    """MariaDB's URL by way of the proxy, with `query` added (driver settings such as `read_timeout`)."""
    url = make_url(MYSQL_URL).set(host="127.0.0.1", port=proxy.port).update_query_dict(query)
    return url.render_as_string(hide_password=False)
