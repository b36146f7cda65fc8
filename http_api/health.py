"""`GET /` and `GET /api/health`: liveness for people, readiness for load balancers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from http_api.endpoint import endpoint
from http_api.schemas.common import Output
from persistence.engine import ping
from resources import resources

# A load balancer waits for this answer; a hung database must not hang it.
CHECK_TIMEOUT_SECONDS = 3.0

Status = Literal["ok", "unavailable"]


class RootOut(Output):
    message: str
    status: Literal["healthy"]


class HealthOut(Output):
    status: Literal["healthy", "unhealthy"]
    database: Status
    broadcast: Status


@endpoint(response=RootOut, access="public")
async def root(request: Request) -> RootOut:
    """Greeting and liveness."""
    return RootOut(message="Homer API", status="healthy")


@endpoint(response=HealthOut, access="public", responses={503: "The database or the broadcast backend is down"})
async def health(request: Request) -> HealthOut | Response:
    """Readiness: 200 when the database and the broadcast backend both answer, else 503."""
    res = resources(request)
    database, broadcast = await asyncio.gather(within(ping(res.engine)), within(res.fanout.ping()))
    out = HealthOut(
        status="healthy" if database and broadcast else "unhealthy",
        database="ok" if database else "unavailable",
        broadcast="ok" if broadcast else "unavailable",
    )
    if out.status == "healthy":
        return out
    return Response(out.model_dump_json(), status_code=503, media_type="application/json")


async def within(check: Awaitable[bool]) -> bool:
    try:
        return await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return False
