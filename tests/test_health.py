"""`GET /` and `GET /api/health`, including while Redis or the database is really down.

The outage tests take down servers of their own, never the shared ones: a
private `redis-server` on a spare loopback port, and a TCP proxy in front of
MariaDB that can be cut and restored.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from http_api.handlers import exception_handlers
from http_api.health import CHECK_TIMEOUT_SECONDS
from main import create_app
from settings import Settings
from tests.conftest import TEST_PASSWORD, serving, through
from tests.live import RedisServer
from tests.tcp_proxy import TcpProxy

# The health check gives up after CHECK_TIMEOUT_SECONDS; allow a little on top.
OUTAGE_ANSWER_SECONDS = CHECK_TIMEOUT_SECONDS + 1.5
# A recovered backend must be noticed without restarting the app.
RECOVERY_SECONDS = 10.0
SHUTDOWN_SECONDS = 5.0
HEALTHY = {"status": "healthy", "database": "ok", "broadcast": "ok"}


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server on PATH")
    server = RedisServer(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_root_greets(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "Homer API", "status": "healthy"}


async def test_health_reports_database_and_broadcast_ok(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/health")
    assert r.status_code == 200, r.text
    assert r.json() == HEALTHY


@pytest.mark.redis
@pytest.mark.timeout(60)
async def test_health_reports_redis_down_and_recovers(settings: Settings, private_redis: RedisServer) -> None:
    async with serving(replace(settings, broadcast_url=private_redis.url)) as http:
        await expect_healthy(http)
        private_redis.stop()
        body = await expect_unhealthy(http)
        assert body == {"status": "unhealthy", "database": "ok", "broadcast": "unavailable"}
        await private_redis.start()
        await wait_until_healthy(http)


@pytest.mark.redis
@pytest.mark.timeout(60)
async def test_app_shuts_down_cleanly_while_redis_is_down(
    settings: Settings, private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    loop = asyncio.get_running_loop()
    async with serving(replace(settings, broadcast_url=private_redis.url)) as http:
        await expect_healthy(http)
        private_redis.stop()
        await expect_unhealthy(http)
        caplog.clear()
        leaving = loop.time()
    elapsed = loop.time() - leaving
    assert elapsed < SHUTDOWN_SECONDS, f"shutdown took {elapsed:.1f}s"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.redis
@pytest.mark.timeout(60)
async def test_health_is_ok_at_once_after_a_redis_restart(settings: Settings, private_redis: RedisServer) -> None:
    async with serving(replace(settings, broadcast_url=private_redis.url)) as http:
        await expect_healthy(http)
        private_redis.stop()
        await private_redis.start()
        await expect_healthy(http)


@pytest.mark.mysql
@pytest.mark.timeout(60)
async def test_health_reports_database_down_and_recovers(settings: Settings, database_proxy: TcpProxy) -> None:
    async with serving(replace(settings, database_url=through(database_proxy))) as http:
        await expect_healthy(http)
        await database_proxy.stop()
        body = await expect_unhealthy(http)
        assert body == {"status": "unhealthy", "database": "unavailable", "broadcast": "ok"}
        await database_proxy.start()
        await wait_until_healthy(http)


@pytest.mark.mysql
@pytest.mark.timeout(60)
async def test_requests_fail_fast_with_a_503_to_retry_while_database_is_down(
    settings: Settings, database_proxy: TcpProxy
) -> None:
    async with serving_like_a_server(replace(settings, database_url=through(database_proxy))) as http:
        await expect_healthy(http)
        await database_proxy.stop()
        async with asyncio.timeout(OUTAGE_ANSWER_SECONDS):
            r = await http.post("/api/auth/login", json={"email": "a@example.in", "password": TEST_PASSWORD})
        assert (r.status_code, r.headers.get("retry-after")) == (503, "5"), r.text
        assert r.json() == {"detail": "Service unavailable; try again shortly"}
        assert "Traceback" not in r.text and "asyncmy" not in r.text
        await database_proxy.start()
        await wait_until_healthy(http)
        r = await http.post("/api/auth/login", json={"email": "a@example.in", "password": TEST_PASSWORD})
        assert r.status_code == 401, r.text


@pytest.mark.mysql
@pytest.mark.timeout(60)
async def test_first_request_after_a_database_restart_succeeds(settings: Settings, database_proxy: TcpProxy) -> None:
    async with serving_like_a_server(replace(settings, database_url=through(database_proxy))) as http:
        await expect_healthy(http)
        await database_proxy.stop()
        await database_proxy.start()
        r = await http.post("/api/auth/login", json={"email": "a@example.in", "password": TEST_PASSWORD})
        assert r.status_code == 401, r.text
        await expect_healthy(http)


async def test_a_request_that_finds_no_free_pooled_connection_gets_a_503(settings: Settings) -> None:
    """As when a hung database holds every pooled connection: the app's own error handlers, a pool of one."""
    engine = create_async_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=0.5)

    async def reads(request: Request) -> JSONResponse:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return JSONResponse({})

    app = Starlette(routes=[Route("/reads", reads)], exception_handlers=exception_handlers)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with engine.connect(), httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            r = await http.get("/reads")
    finally:
        await engine.dispose()
    assert (r.status_code, r.headers.get("retry-after")) == (503, "5"), r.text
    assert r.json() == {"detail": "Service unavailable; try again shortly"}


@asynccontextmanager
async def serving_like_a_server(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Like `serving`, but an unhandled error reaches the test as the 500 a server sends, not as an exception."""
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def expect_healthy(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/health")
    assert r.status_code == 200, r.text
    assert r.json() == HEALTHY


async def expect_unhealthy(http: httpx.AsyncClient) -> dict[str, Any]:
    """One health request answers 503 promptly: a dead backend must not hang the load balancer."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    r = await http.get("/api/health")
    elapsed = loop.time() - started
    assert elapsed < OUTAGE_ANSWER_SECONDS, f"health took {elapsed:.1f}s to answer with a backend down"
    assert r.status_code == 503, r.text
    return r.json()  # type: ignore[no-any-return]


async def wait_until_healthy(http: httpx.AsyncClient) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECOVERY_SECONDS
    while True:
        r = await http.get("/api/health")
        if r.status_code == 200:
            assert r.json() == HEALTHY
            return
        assert loop.time() < deadline, f"still unhealthy {RECOVERY_SECONDS}s after recovery: {r.status_code} {r.text}"
        await asyncio.sleep(0.2)
