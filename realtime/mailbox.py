"""A subscriber's bounded share of one channel's events, and what happens when it falls behind.

    MailboxClosed        the mailbox delivers nothing more (its owner left, or the fan-out stopped)
     └── Overflowed      its owner fell `maxsize` events behind: close the socket with 1013

Overflow policy: the event that finds the mailbox full is not queued, the
backlog is dropped, and `get()` raises `Overflowed` at once, even to a
caller that was already waiting. The socket is about to be closed and the
client recovers everything with `sync` when it reconnects, so handing out a
stale backlog first would only delay the close and hold the memory longer.
Nothing is ever put back: an overflowed mailbox stays overflowed.

A mailbox can also receive `{"type": "_resync"}` (`RESYNC_TYPE`): events
meant for it were lost. The fan-out puts it into every mailbox after Redis
came back, and the publisher sends it on a channel whose events it had to
drop (realtime/publisher.py). The socket's writer then reads what it missed
from the database (`Delivery.resync`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

RESYNC_TYPE = "_resync"


class MailboxClosed(Exception):
    """The mailbox receives nothing more."""

    state = "is closed"

    def __init__(self, channel: str) -> None:
        super().__init__(f"the mailbox for {channel!r} {self.state}")
        self.channel = channel


class Overflowed(MailboxClosed):
    """The owner did not keep up: more than `maxsize` events were waiting."""

    state = "overflowed"


class Mailbox:
    """Events of one channel for one subscriber, in publish order, at most `maxsize` waiting.

    Events are shared between the mailboxes of a channel: treat them as read-only. One consumer
    calls `get()`. A socket's mailbox is part of every idle socket's cost, so it holds no more
    than its events, one future while its consumer waits, and the optional `on_close` callback.
    """

    __slots__ = ("channel", "maxsize", "on_close", "_events", "_waiter", "_end", "_closed")

    def __init__(self, channel: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("a mailbox holds at least one event")
        self.channel = channel
        self.maxsize = maxsize
        # Called once when the mailbox closes: for an owner that must act while it is not waiting in get().
        self.on_close: Callable[[], None] | None = None
        self._events: deque[dict[str, Any]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._end: type[MailboxClosed] | None = None
        self._closed: asyncio.Future[None] | None = None  # made by the first wait_closed()

    @property
    def overflowed(self) -> bool:
        return self._end is Overflowed

    @property
    def closed(self) -> bool:
        """True once `get()` raises: after an overflow, or when the subscription ended."""
        return self._end is not None

    def __len__(self) -> int:
        return len(self._events)

    async def get(self) -> dict[str, Any]:
        """The next event; raises `Overflowed` or `MailboxClosed` as soon as the mailbox is closed."""
        while (event := await self.get_within(None)) is None:
            pass
        return event

    async def get_within(self, seconds: float | None) -> dict[str, Any] | None:
        """As `get()`, but None when no event came within `seconds` (None: no time limit).

        Cheaper than `asyncio.timeout` around `get()`, and the socket's writer waits like this for
        every event: an event already waiting costs no timer at all, one still to come a timer
        handle, where the context manager costs an object, a handle and its bookkeeping each time.
        """
        if self._end is None and not self._events:
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            # Only deliver(), close() and this timer wake the waiter: woken with no event and still
            # open means the time is up.
            timer = None if seconds is None else loop.call_later(seconds, self._wake)
            try:
                await self._waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        if self._end is not None:
            raise self._end(self.channel)
        return self._events.popleft() if self._events else None

    async def wait_closed(self) -> None:
        """Return once the mailbox is closed."""
        if self._end is not None:
            return
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._closed)

    def deliver(self, event: dict[str, Any]) -> None:
        """Queue an event without ever waiting: the fan-out's channel calls this, and an owner may too."""
        if self._end is not None:
            return
        if len(self._events) >= self.maxsize:
            self.close(Overflowed)
            return
        self._events.append(event)
        self._wake()

    def close(self, reason: type[MailboxClosed] = MailboxClosed) -> None:
        if self._end is not None:
            return
        self._end = reason
        self._events.clear()
        self._wake()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        if self.on_close is not None:
            self.on_close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
