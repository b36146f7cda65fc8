"""Warnings that an outage repeats for every socket or frame, kept to one line per interval.

While Redis or the database is away, each hello's presence lookup, each
refused frame and each socket closed with 1013 has the same thing to say:
5,000 sockets reconnecting made 5,000 lines that buried the one that named
the cause. An `OutageLog` logs the first, then at most one line every
`every_seconds`, with how many it left out since the last.
"""

from __future__ import annotations

import logging
import time
from typing import Any

EVERY_SECONDS = 10.0


class OutageLog:
    """One kind of warning, logged at most once per interval: `warning` as `Logger.warning`."""

    __slots__ = ("_log", "_every", "_next", "_left_out")

    def __init__(self, log: logging.Logger, every_seconds: float = EVERY_SECONDS) -> None:
        self._log = log
        self._every = every_seconds
        self._next = 0.0  # when the next line may be written
        self._left_out = 0

    def warning(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now < self._next:
            self._left_out += 1
            return
        if self._left_out:  # formatted here: a bare message's own "%" would otherwise be taken for a field
            text = message % args if args else message
            self._log.warning("%s (and %d more like it since the last such line)", text, self._left_out)
        else:
            self._log.warning(message, *args)
        self._next, self._left_out = now + self._every, 0
