"""The Homer app: settings, routes, middleware, error handlers and the lifespan.

`uvicorn main:app` serves it (in production with the WebSocket protocol of
realtime/protocol.py: see the Procfile). With no environment at all it runs
on SQLite and in-process broadcast; `DATABASE_URL` and `BROADCAST_URL` move it to
MariaDB/MySQL and Redis.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route, WebSocketRoute

from auth.passwords import Passwords
from http_api import auth, chats, health, notifications, properties, renters, shortlists, users
from http_api.handlers import exception_handlers
from http_api.openapi import openapi_route
from http_api.properties import PROPERTY_IMAGES_URL
from persistence.engine import create_schema, make_engine, make_read_sessionmaker, make_sessionmaker
from realtime import socket
from realtime.actions import announce_presence
from realtime.badges import BadgeCounter
from realtime.fanout import Fanout
from realtime.presence import Presence
from realtime.presence_stamps import presence_client
from realtime.sending import Sender
from realtime.token_watch import TokenWatch
from resources import Resources
from settings import Settings, SettingsError, load_settings
from storage.images import public_files
from task_stacks import report_if_slow
from timeouts import keep_cancellations

keep_cancellations()  # before any loop runs: see timeouts.py

VERSION = "0.1.0"
# Shutdown's steps are each bounded and take well under a second; past this, the log names what waits.
SHUTDOWN_REPORT_SECONDS = 4.0


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Resources]]:
        engine = make_engine(settings.database_url)
        fanout = Fanout(settings.broadcast_url)
        presence_redis = presence_client(settings.broadcast_url)
        presence = Presence(presence_redis)
        sends = Sender(engine, fanout)
        badges = BadgeCounter(engine)
        read = make_read_sessionmaker(engine)
        tokens = TokenWatch(read, settings.ws_token_recheck_seconds)
        try:
            await create_schema(engine)
            await fanout.connect()
            passwords = Passwords(settings.bcrypt_rounds)
            await passwords.prepare()
            res = Resources(
                settings,
                engine,
                make_sessionmaker(engine),
                fanout,
                passwords,
                presence,
                read,
                sends,
                badges,
                tokens,
            )
            presence.announce = partial(announce_presence, res)
            await presence.start()
            sends.start()
            badges.start()
            tokens.start()
            # What a started process holds (modules, schemas, compiled statements) lives as long as it does.
            # Frozen, it is left out of the collector's full passes, which otherwise stopped a busy server's
            # loop for 35-65 ms now and then (bench/README.md, twenty-first pass). No collection first: one per
            # start made the tests, which start hundreds of apps, a fifth slower.
            gc.freeze()
            yield {"resources": res}
        finally:
            gc.unfreeze()  # tests start many apps in one process: none keeps another's objects for good
            async with report_if_slow("shutdown", SHUTDOWN_REPORT_SECONDS):
                await sends.stop()
                await badges.stop()
                await tokens.stop()
                await presence.stop()
                await fanout.disconnect()
                if presence_redis is not None:
                    await presence_redis.aclose()
                # Disposed inside the loop that made it (asyncmy #111).
                await engine.dispose()

    api_routes = [
        Route("/health", health.health, methods=["GET"]),
        Route("/openapi.json", openapi_route(lambda: app.routes, title="Homer API", version=VERSION)),
        *auth.routes,
        *users.routes,
        *chats.routes,
        *properties.routes,
        *shortlists.routes,
        *renters.routes,
        *notifications.routes,
    ]
    app = Starlette(
        routes=[
            Route("/", health.root, methods=["GET"]),
            Mount("/api", routes=api_routes),
            WebSocketRoute("/ws", socket.endpoint),
            Mount(PROPERTY_IMAGES_URL, public_files(settings.upload_dir / "properties")),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                expose_headers=["Retry-After"],
                max_age=600,
            )
        ],
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    return app


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise SystemExit(f"Homer refuses to start: {exc}") from None


logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app(settings_or_exit())
