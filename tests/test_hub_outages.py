"""The fan-out hub through Redis outages: stopped, restarted, hung, down at start, and down or hung at shutdown.

Each test starts a private `redis-server` on a spare loopback port and kills it
by PID; the machine's shared Redis is never touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from realtime import wire
from realtime.fanout import PUBLISH_TIMEOUT_SECONDS, Fanout
from realtime.mailbox import RESYNC_TYPE, Mailbox, MailboxClosed
from realtime.publisher import Publisher
from realtime.redis_backend import redis_client
from settings import Settings
from tests.conftest import serving
from tests.live import RedisServer, receive
from tests.tcp_proxy import TcpProxy

# An unreachable Redis costs a publisher at most its timeout; allow a little on top.
PUBLISH_BOUND_SECONDS = PUBLISH_TIMEOUT_SECONDS + 0.5
RECOVERY_SECONDS = 10.0
DELIVERY_SECONDS = 5.0

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def hub(redis_server: RedisServer) -> AsyncIterator[Fanout]:
    """A hub connected to the test's own Redis, disconnected after the test (again, if the test did)."""
    await redis_server.start()
    connected = Fanout(redis_server.url)
    await connected.connect()
    yield connected
    await connected.disconnect()


@pytest.mark.redis
async def test_fanout_resumes_after_redis_restarts(redis_server: RedisServer, hub: Fanout, channel: str) -> None:
    reconnects: list[int] = []
    hub.on_reconnect.append(lambda: reconnects.append(1))
    async with hub.subscribe(channel) as mailbox:
        await hub.publish(channel, {"type": "test", "n": 0})
        assert await receive(mailbox, 1) == [0]

        redis_server.stop()
        await publish_promptly(hub, channel, {"type": "test", "n": -1})
        await eventually(lambda: not hub.available, "the outage was not noticed")
        assert not await hub.ping()
        await publish_promptly(hub, channel, {"type": "test", "n": -2})

        await redis_server.start()
        events = await receive_once_recovered(hub, channel, mailbox)
        assert {"type": RESYNC_TYPE} in events
        assert all(event.get("n", 0) >= 0 for event in events), "an event from the outage came back"
        assert reconnects == [1]
        assert await hub.ping()
        await hub.publish(channel, {"type": "test", "n": 1})
        assert await receive(mailbox, 1) == [1]


@pytest.mark.redis
async def test_ping_reports_a_restarted_redis_as_up_at_once(
    redis_server: RedisServer, hub: Fanout, channel: str
) -> None:
    async with hub.subscribe(channel) as mailbox:
        redis_server.stop()
        await eventually(lambda: not hub.available, "the outage was not noticed")
        await redis_server.start()
        assert await hub.ping(), "a restarted Redis was reported down"
        assert hub.available
        await hub.publish(channel, {"type": "test", "n": 1})
        assert await receive_skipping_resync(mailbox) == 1


@pytest.mark.redis
async def test_publish_gives_up_promptly_while_redis_hangs_and_fanout_resumes(
    redis_server: RedisServer, hub: Fanout, channel: str
) -> None:
    try:
        async with hub.subscribe(channel) as mailbox:
            redis_server.pause()  # accepts connections, answers nothing: only timeouts help
            await publish_promptly(hub, channel, {"type": "test", "n": -1})  # queued: this cannot wait
            # The publisher's own wait is the one a hung Redis could make endless.
            dropping = hub.publisher
            assert dropping is not None
            # Well past its 1 s timeout on a busy machine, and well short of the endless wait it guards against.
            await eventually(lambda: dropping.dropped > 0, "the publisher never gave up", seconds=5.0)
            await eventually(lambda: not hub.available, "a hung Redis was not noticed")
            redis_server.resume()
            events = await receive_once_recovered(hub, channel, mailbox)
            assert {"type": RESYNC_TYPE} in events
    finally:
        redis_server.resume()


@pytest.mark.redis
async def test_connect_succeeds_with_redis_down_and_fanout_starts_when_it_comes_up(
    redis_server: RedisServer, channel: str
) -> None:
    hub = Fanout(redis_server.url)
    await asyncio.wait_for(hub.connect(), PUBLISH_BOUND_SECONDS)
    try:
        assert not hub.available and not await hub.ping()
        async with hub.subscribe(channel) as mailbox:  # a socket that connects during the outage
            await publish_promptly(hub, channel, {"type": "test", "n": -1})
            await redis_server.start()
            events = await receive_once_recovered(hub, channel, mailbox)
            assert {"type": RESYNC_TYPE} in events
            assert hub.available and await hub.ping()
    finally:
        await hub.disconnect()


@pytest.mark.redis
async def test_shutdown_with_redis_down_is_prompt_and_closes_mailboxes(redis_server: RedisServer, channel: str) -> None:
    await redis_server.start()
    hub = Fanout(redis_server.url)
    await hub.connect()
    async with hub.subscribe(channel) as mailbox:
        redis_server.stop()
        reading = asyncio.create_task(mailbox.get())
        await asyncio.wait_for(hub.disconnect(), 3.0)
        with pytest.raises(MailboxClosed):
            await asyncio.wait_for(reading, 1.0)


@pytest.mark.redis
async def test_app_starts_with_redis_down_and_becomes_healthy_when_it_comes_up(
    settings: Settings, redis_server: RedisServer
) -> None:
    async with serving(replace(settings, broadcast_url=redis_server.url)) as http:
        r = await http.get("/api/health")
        assert r.status_code == 503, r.text
        assert r.json()["broadcast"] == "unavailable"
        await redis_server.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECOVERY_SECONDS
        while (r := await http.get("/api/health")).status_code != 200:
            assert loop.time() < deadline, r.text
            await asyncio.sleep(0.2)


async def receive_skipping_resync(mailbox: Mailbox) -> Any:
    async with asyncio.timeout(DELIVERY_SECONDS):
        while (event := await mailbox.get())["type"] == RESYNC_TYPE:
            pass
        return event["n"]


async def publish_promptly(hub: Fanout, channel: str, event: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await hub.publish(channel, event)  # must not raise
    assert loop.time() - started < PUBLISH_BOUND_SECONDS


async def receive_once_recovered(hub: Fanout, channel: str, mailbox: Mailbox) -> list[dict[str, Any]]:
    """Publish a marker until it arrives (fan-out is back); everything the mailbox got up to it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECOVERY_SECONDS
    received: list[dict[str, Any]] = []
    marker = {"type": "test", "n": 1_000_000}
    while True:
        assert loop.time() < deadline, f"fan-out did not resume within {RECOVERY_SECONDS}s: {received}"
        await hub.publish(channel, marker)
        try:
            async with asyncio.timeout(0.3):
                while True:
                    event = await mailbox.get()
                    received.append(event)
                    if event == marker:
                        return received
        except TimeoutError:
            pass


async def eventually(condition: Any, message: str, seconds: float = RECOVERY_SECONDS) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, message
        await asyncio.sleep(0.05)


@pytest.mark.redis
async def test_shutdown_while_redis_hangs_is_prompt(redis_server: RedisServer, hub: Fanout, channel: str) -> None:
    try:
        async with hub.subscribe(channel) as mailbox:
            await hub.publish(channel, {"type": "test", "n": 0})
            assert await receive(mailbox, 1) == [0]
            redis_server.pause()  # subscribed, with an event still to publish: every step of shutdown meets a hang
            await hub.publish(channel, {"type": "test", "n": 1})
            reading = asyncio.create_task(mailbox.get())
            await asyncio.wait_for(hub.disconnect(), 3.0)
            with pytest.raises(MailboxClosed):
                await asyncio.wait_for(reading, 1.0)
    finally:
        redis_server.resume()


@pytest.mark.redis
async def test_a_process_stopping_soon_after_a_failed_publish_still_sends_its_resync_hint(
    redis_server: RedisServer, channel: str
) -> None:
    """The hint owed for the dropped event goes out at shutdown, not only with a later pipeline."""
    await redis_server.start()
    proxy = TcpProxy("127.0.0.1", redis_server.port)  # only the stopping process's Redis is slow
    await proxy.start()
    stopping, listening = Fanout(f"redis://127.0.0.1:{proxy.port}/0"), Fanout(redis_server.url)
    try:
        for hub in (stopping, listening):
            await hub.connect()
        async with listening.subscribe(channel) as mailbox:
            assert stopping.publisher is not None
            proxy.reply_delay = 2 * PUBLISH_TIMEOUT_SECONDS
            await stopping.publish(channel, {"type": "test", "n": -1})
            await eventually(lambda: stopping.publisher is not None and stopping.publisher.dropped > 0, "no drop")
            proxy.reply_delay = 0.0
            await stopping.disconnect()
            # The dropped event itself may have reached Redis, its answer lost: it can come first.
            async with asyncio.timeout(DELIVERY_SECONDS):
                while (await mailbox.get())["type"] != RESYNC_TYPE:
                    pass
    finally:
        for hub in (stopping, listening):
            await hub.disconnect()
        await proxy.stop()


@pytest.mark.redis
async def test_events_a_stopping_process_could_not_send_in_time_are_logged_and_their_channels_told_to_resync(
    redis_server: RedisServer, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis that stops answering at shutdown: the pipeline in flight and the queue behind it are drops."""
    await redis_server.start()
    proxy = TcpProxy("127.0.0.1", redis_server.port)
    await proxy.start()
    client = redis_client(f"redis://127.0.0.1:{proxy.port}/0", timeout=PUBLISH_TIMEOUT_SECONDS)
    publisher = Publisher(client, PUBLISH_TIMEOUT_SECONDS, "")
    listening = Fanout(redis_server.url)
    try:
        await listening.connect()
        publisher.start()
        async with listening.subscribe(channel) as mailbox:
            publisher.put(channel, wire.dumps({"type": "test", "n": 0}))
            assert await receive(mailbox, 1) == [0]  # the publisher's connection is open
            proxy.hold_replies_of(b"PUBLISH")  # that connection's answers stop; a new one's flow
            publisher.put(channel, wire.dumps({"type": "test", "n": 1}))
            assert await receive(mailbox, 1) == [1]  # it reached Redis; its answer is held
            publisher.put(channel, wire.dumps({"type": "test", "n": 2}))  # queued behind it
            with caplog.at_level(logging.WARNING, logger="realtime.publisher"):
                await publisher.stop(PUBLISH_TIMEOUT_SECONDS * 0.8)  # before the pipeline's own timeout
            assert publisher.dropped == 2
            assert any("dropped 2 event(s)" in record.getMessage() for record in caplog.records), caplog.text
            async with asyncio.timeout(DELIVERY_SECONDS):
                assert await mailbox.get() == {"type": RESYNC_TYPE}
    finally:
        await publisher.stop(0)
        await client.aclose()
        await listening.disconnect()
        await proxy.stop()
