"""Exception handlers: the only place errors become `{"detail": ...}` responses."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from errors import ApiError, RateLimited
from persistence.engine import connection_lost

log = logging.getLogger("homer.errors")

DATABASE_RETRY_AFTER_SECONDS = 5


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def client_gone(request: Request, exc: Exception) -> Response:
    # The client hung up while sending its body: nobody reads this answer, and it is no server error.
    return JSONResponse({"detail": "Client disconnected"}, status_code=400)


async def server_error(request: Request, exc: Exception) -> Response:
    # The trace goes to the log, never to the client.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


async def database_error(request: Request, exc: Exception) -> Response:
    """The database unreachable, or no pooled connection free within the pool's wait: 503, which clients
    retry after `Retry-After`.

    One warning line, since the outage explains it; any other database error is a server error.
    """
    if not connection_lost(exc):
        return await server_error(request, exc)
    log.warning("%s %s: the database is unavailable (%s)", request.method, request.url.path, type(exc).__name__)
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    return JSONResponse({"detail": "Service unavailable; try again shortly"}, status_code=503, headers=headers)


exception_handlers = {
    ApiError: api_error,
    HTTPException: http_error,
    ClientDisconnect: client_gone,
    DBAPIError: database_error,
    PoolTimeout: database_error,
    Exception: server_error,
}
