"""An outage is logged once per interval, not once per socket (realtime/outage_log.py)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path

import pytest

from realtime import presence
from realtime.outage_log import OutageLog
from realtime.presence import Presence
from tests.conftest import database_for
from tests.live import RedisServer, Server, chat_between, next_frame, open_socket, server_env
from tests.presence_trackers import Database

pytestmark = pytest.mark.timeout(60)

SOCKETS = 10


def test_the_first_line_then_one_per_interval_counting_what_it_left_out(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.outage")
    outage = OutageLog(log, every_seconds=0.2)
    with caplog.at_level(logging.WARNING, logger="tests.outage"):
        for n in range(5):
            outage.warning("lookup %d failed", n)
        lines = [record.getMessage() for record in caplog.records]
        assert lines == ["lookup 0 failed"]
        caplog.clear()
        time.sleep(0.25)
        outage.warning("lookup %d failed", 5)
        outage.warning("lookup %d failed", 6)
        assert [record.getMessage() for record in caplog.records] == [
            "lookup 5 failed (and 4 more like it since the last such line)"
        ]
        caplog.clear()
        bare = OutageLog(log, every_seconds=0.2)
        for _ in range(2):
            bare.warning("100% of lookups failed")
        time.sleep(0.25)
        bare.warning("100% of lookups failed")
        assert [record.getMessage() for record in caplog.records] == [
            "100% of lookups failed",
            "100% of lookups failed (and 1 more like it since the last such line)",
        ]


async def test_joins_and_leaves_announced_while_the_database_is_down_log_one_line_for_them_all(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presence, "announcing_failed", OutageLog(presence.log))  # none of earlier tests' lines
    tracker = Presence(None, Database(up=False))
    await tracker.start()
    try:
        with caplog.at_level(logging.WARNING, logger="homer.presence"):
            for user in (uuid.uuid4().hex for _ in range(SOCKETS)):
                await tracker.connected(user)
                await tracker.disconnected(user)
        assert len(tracker.unsure) == SOCKETS  # each left for the next heartbeat
        [line] = [r.getMessage() for r in caplog.records if "announcing" in r.getMessage()]
        assert line.endswith("to retry: ConnectionError: the database is down")
    finally:
        await tracker.stop()


async def test_hellos_while_redis_is_down_log_one_presence_line_for_them_all(
    tmp_path: Path, private_redis: RedisServer
) -> None:
    log = tmp_path / "server.log"
    database = database_for(tmp_path)
    server = Server(server_env(database, private_redis.url, tmp_path / "uploads"), log=log).start()
    try:
        owner, renter, _ = await chat_between(server, database)
        private_redis.stop()
        for user in [owner, renter] * (SOCKETS // 2):  # each hello looks its counterparts up
            async with await open_socket(server, user["token"]) as ws:
                assert (await next_frame(ws, "hello"))["online"] == []
        await asyncio.sleep(0.5)
    finally:
        server.stop()
    assert log.read_text().count("presence lookup failed") == 1, log.read_text()
