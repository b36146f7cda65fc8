"""The per-process fan-out hub: subscribe races, bounded mailboxes, order, and surviving a Redis outage.

Every test runs on `memory://` and, with TEST_REDIS_URL set, on that Redis
(which other runs may share: channel names are unique per test). Tests that
stop Redis start a private `redis-server` on a spare loopback port and kill
it by PID; they never touch the shared one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from urllib.parse import urlparse

import pytest
from redis.asyncio import Redis

from realtime.fanout import Fanout
from realtime.mailbox import RESYNC_TYPE, Mailbox, MailboxClosed, Overflowed
from realtime.publisher import CONTROL_CHANNEL, MAX_QUEUED_EVENTS
from realtime.redis_backend import channel_prefix
from tests.conftest import REDIS_URL
from tests.live import receive

DELIVERY_SECONDS = 5.0

pytestmark = pytest.mark.timeout(60)

BACKENDS = [
    pytest.param("memory://", id="memory"),
    pytest.param(REDIS_URL, id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def fanout(url: str) -> AsyncIterator[Fanout]:
    hub = Fanout(url)
    await hub.connect()
    try:
        yield hub
    finally:
        await hub.disconnect()


async def test_an_event_arrives_as_published(fanout: Fanout, channel: str) -> None:
    event = {"type": "test", "n": 1, "text": 'नमस्ते 🏠 "x"\\ \u2028 \x00', "seq": 2**53 + 1, "ratio": 0.1, "none": None}
    async with fanout.subscribe(channel) as mailbox:
        await fanout.publish(channel, event)
        async with asyncio.timeout(DELIVERY_SECONDS):
            assert await mailbox.get() == event


async def test_two_mailboxes_joining_a_new_channel_at_once_both_receive_everything(
    fanout: Fanout, channel: str
) -> None:
    async with AsyncExitStack() as stack:
        first, second = await asyncio.gather(
            stack.enter_async_context(fanout.subscribe(channel)), stack.enter_async_context(fanout.subscribe(channel))
        )
        for n in range(20):
            await fanout.publish(channel, {"type": "test", "n": n})
        assert await receive(first, 20) == list(range(20))
        assert await receive(second, 20) == list(range(20))


async def test_many_subscribers_of_a_channel_share_one_subscription(url: str, fanout: Fanout, channel: str) -> None:
    async with AsyncExitStack() as stack:
        mailboxes = await asyncio.gather(*(stack.enter_async_context(fanout.subscribe(channel)) for _ in range(50)))
        if url.startswith("redis"):
            assert await redis_subscribers(url, channel) == 1
        await fanout.publish(channel, {"type": "test", "n": 0})
        for mailbox in mailboxes:
            assert await receive(mailbox, 1) == [0]
    if url.startswith("redis"):
        assert await redis_subscribers(url, channel) == 0


@pytest.mark.parametrize("leaving", ["returning", "cancelled"])
async def test_many_subscribers_leaving_at_once_raise_nothing_and_unsubscribe(
    url: str, fanout: Fanout, channel: str, leaving: str
) -> None:
    joined = 0
    all_joined = asyncio.Event()
    leave = asyncio.Event()

    async def one_socket() -> None:
        nonlocal joined
        async with fanout.subscribe(channel) as mailbox:
            joined += 1
            if joined == 100:
                all_joined.set()
            await leave.wait()
            assert await receive(mailbox, 1) == [0]

    tasks = [asyncio.create_task(one_socket()) for _ in range(100)]
    await asyncio.wait_for(all_joined.wait(), DELIVERY_SECONDS)
    await fanout.publish(channel, {"type": "test", "n": 0})
    if leaving == "cancelled":
        for task in tasks:
            task.cancel()
    leave.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(outcome is None or isinstance(outcome, asyncio.CancelledError) for outcome in outcomes), outcomes

    if url.startswith("redis"):
        assert await redis_subscribers(url, channel) == 0
    async with fanout.subscribe(channel) as late:
        await fanout.publish(channel, {"type": "test", "n": 1})
        assert await receive(late, 1) == [1]
        await asyncio.sleep(0.1)
        assert len(late) == 0, "delivered twice: a stale subscription survived"


async def test_a_subscriber_joining_while_the_last_one_leaves_still_receives(fanout: Fanout, channel: str) -> None:
    async def join_and_leave() -> None:
        async with fanout.subscribe(channel):
            await asyncio.sleep(0)

    for n in range(30):
        leaving = asyncio.create_task(join_and_leave())
        await asyncio.sleep(0)
        async with fanout.subscribe(channel) as staying:
            await leaving
            await fanout.publish(channel, {"type": "test", "n": n})
            assert await receive(staying, 1) == [n]


@pytest.mark.redis
async def test_two_processes_deliver_to_each_other(channel: str) -> None:
    async with AsyncExitStack() as stack:
        one, two = Fanout(REDIS_URL), Fanout(REDIS_URL)
        for hub in (one, two):
            await hub.connect()
            stack.push_async_callback(hub.disconnect)
        at_one = await stack.enter_async_context(one.subscribe(channel))
        at_two = await stack.enter_async_context(two.subscribe(channel))
        await one.publish(channel, {"type": "test", "n": 1})
        await one.flushed()  # publishing only queues: Redis orders what reached it, not what was queued
        await two.publish(channel, {"type": "test", "n": 2})
        assert await receive(at_one, 2) == [1, 2]
        assert await receive(at_two, 2) == [1, 2]


@pytest.mark.redis
async def test_deployments_on_two_databases_of_one_redis_hear_nothing_of_each_other(channel: str) -> None:
    """Pub/sub ignores the database number; the fan-out's channel names do not (redis_backend.channel_prefix)."""
    url = urlparse(REDIS_URL)
    other = url._replace(path=f"/{int(url.path.strip('/') or 0) + 1}").geturl()
    async with AsyncExitStack() as stack:
        this, elsewhere, elsewhere_too = Fanout(REDIS_URL), Fanout(other), Fanout(other)
        for hub in (this, elsewhere, elsewhere_too):
            await hub.connect()
            stack.push_async_callback(hub.disconnect)
        here = await stack.enter_async_context(this.subscribe(channel))
        there = await stack.enter_async_context(elsewhere.subscribe(channel))
        await this.publish(channel, {"type": "test", "n": 1})
        await this.flushed()  # in Redis before the next publish: had it crossed, it would arrive first
        await elsewhere_too.publish(channel, {"type": "test", "n": 2})
        assert await receive(there, 1) == [2]
        assert await receive(here, 1) == [1]
        await elsewhere.publish(CONTROL_CHANNEL, {"type": RESYNC_TYPE})  # "every socket" stays in its database
        await elsewhere.flushed()
        await this.publish(channel, {"type": "test", "n": 3})
        assert await receive(here, 1) == [3]


@pytest.mark.redis
async def test_an_event_that_finds_the_publish_queue_full_is_dropped_and_its_channel_resyncs(channel: str) -> None:
    async with AsyncExitStack() as stack:
        one, two = Fanout(REDIS_URL), Fanout(REDIS_URL)
        for hub in (one, two):
            await hub.connect()
            stack.push_async_callback(hub.disconnect)
        at_two = await stack.enter_async_context(two.subscribe(channel))
        assert one.publisher is not None
        for n in range(MAX_QUEUED_EVENTS):  # publishing never yields, so the queue is not drained meanwhile
            await one.publish(channel + ":filler", {"type": "test", "n": n})
        await one.publish(channel, {"type": "test", "n": -1})
        assert one.publisher.dropped == 1
        await one.flushed()
        await one.publish(channel, {"type": "test", "n": 1})
        events = [await asyncio.wait_for(at_two.get(), DELIVERY_SECONDS) for _ in range(2)]
        assert events == [{"type": RESYNC_TYPE}, {"type": "test", "n": 1}]  # the hint came, the dropped event never


async def test_unread_mailbox_overflows_while_the_others_get_everything_in_order(fanout: Fanout, channel: str) -> None:
    async with fanout.subscribe(channel, maxsize=10) as slow, fanout.subscribe(channel, maxsize=10) as fast:
        received: list[int] = []
        for n in range(100):  # published as fast as `fast` reads: a publish does not wait for delivery
            await fanout.publish(channel, {"type": "test", "n": n})
            received += await receive(fast, 1)
        assert received == list(range(100))
        assert slow.overflowed and slow.closed and not fast.overflowed
        await asyncio.wait_for(slow.wait_closed(), 1)
        with pytest.raises(Overflowed):
            await slow.get()  # at once: the backlog is dropped, the client will sync


async def test_overflow_wakes_a_waiting_reader(fanout: Fanout, channel: str) -> None:
    async with fanout.subscribe(channel, maxsize=3) as mailbox:
        for n in range(4):
            await fanout.publish(channel, {"type": "test", "n": n})
        waiting = asyncio.create_task(mailbox.wait_closed())
        await asyncio.wait_for(waiting, DELIVERY_SECONDS)
        with pytest.raises(Overflowed):
            await mailbox.get()


async def test_get_within_ends_with_an_event_or_the_time_or_the_close() -> None:
    mailbox, loop = Mailbox("test", maxsize=4), asyncio.get_running_loop()
    started = loop.time()
    assert await mailbox.get_within(0.05) is None
    assert loop.time() - started >= 0.04
    loop.call_later(0.02, mailbox.deliver, {"n": 1})
    assert await asyncio.wait_for(mailbox.get_within(0.05), 1) == {"n": 1}
    # The timer of that wait must not outlive it and end this one, which has no limit, at 0.05 s.
    loop.call_later(0.15, mailbox.deliver, {"n": 2})
    assert await asyncio.wait_for(mailbox.get_within(None), 1) == {"n": 2}
    mailbox.deliver({"n": 3})
    assert await mailbox.get_within(0) == {"n": 3}  # already there: no wait at all
    loop.call_later(0.02, mailbox.close)
    with pytest.raises(MailboxClosed):
        await asyncio.wait_for(mailbox.get_within(5), 1)


async def test_a_thousand_events_arrive_in_order_at_every_mailbox(fanout: Fanout, channel: str) -> None:
    async with fanout.subscribe(channel, maxsize=1000) as first, fanout.subscribe(channel, maxsize=1000) as second:
        readers = [asyncio.create_task(receive(mailbox, 1000, seconds=30)) for mailbox in (first, second)]
        for n in range(1000):
            await fanout.publish(channel, {"type": "test", "n": n})
        for reader in readers:
            assert await reader == list(range(1000))


async def test_channels_are_kept_apart_and_events_decode_to_what_was_published(fanout: Fanout, channel: str) -> None:
    async with fanout.subscribe(channel) as mine, fanout.subscribe(channel + ":other") as other:
        event = {"type": "message", "message": {"text": "नमस्ते", "seq": 7, "attachments": []}}
        await fanout.publish(channel, event)
        assert await asyncio.wait_for(mine.get(), DELIVERY_SECONDS) == event
        await asyncio.sleep(0.1)
        assert len(other) == 0


async def test_a_channel_costs_no_task_of_its_own(fanout: Fanout, channel: str) -> None:
    """Each user's channel is part of their idle socket: it must not keep a task (nor its queue) alive."""
    await asyncio.sleep(0.1)  # the fan-out's own tasks settle
    before = len(asyncio.all_tasks())
    async with AsyncExitStack() as stack:
        mailboxes = [await stack.enter_async_context(fanout.subscribe(f"{channel}:{n}")) for n in range(50)]
        await asyncio.sleep(0.1)
        assert len(asyncio.all_tasks()) == before
        for n in (0, 49):
            await fanout.publish(f"{channel}:{n}", {"type": "test", "n": n})
            assert await receive(mailboxes[n], 1) == [n]


async def test_a_mailbox_is_closed_when_its_block_exits(fanout: Fanout, channel: str) -> None:
    async with fanout.subscribe(channel) as mailbox:
        pass
    assert mailbox.closed and not mailbox.overflowed
    with pytest.raises(MailboxClosed):
        await mailbox.get()


async def redis_subscribers(url: str, channel: str) -> int:
    """How many connections Redis itself counts as subscribed to `channel` (all processes)."""
    client = Redis.from_url(url)
    try:
        [(_, count)] = await client.pubsub_numsub(channel_prefix(url) + channel)
        return int(count)
    finally:
        await client.aclose()
