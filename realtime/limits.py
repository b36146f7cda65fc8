"""Per-socket rate limits: frames a second by type, and the flood rule that ends a socket."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

# REALTIME.md: more than 20 sends or 5 typing frames a second are refused.
# The send limit is a setting (WS_SENDS_PER_SECOND, settings.py).
TYPING_PER_SECOND = 5
# Pings, reads and syncs are cheap but not free; a person never sends 30 a second.
OTHER_PER_SECOND = 30
# Read frames merged into one still waiting (realtime/socket.py): a client marking each message it shows
# sends bursts of them and is never refused, but each costs its parse, so past this many a second they are.
MERGED_READS_PER_SECOND = 300
# A client refused this often within FLOOD_WINDOW seconds is not a person: close with 1008.
FLOOD_REFUSALS = 40
FLOOD_WINDOW = 10.0
MERGED_READ = "merged read"  # the window of read frames merged into a waiting one


@dataclass(slots=True)
class Window:
    """At most `limit` frames in any one second, as the protocol words it.

    A token bucket of a second's worth lets a client that waited send twice the limit within one second
    (the full bucket, then what refills meanwhile); remembering the times let through does not. A list,
    not a deque: an idle socket's three empty lists cost about 170 bytes, three deques about 2.3 KB.
    """

    limit: int
    times: list[float] = field(default_factory=list)

    def take(self) -> bool:
        now = time.monotonic()
        times = self.times
        if times and now - times[0] >= 1.0:
            del times[: bisect.bisect_right(times, now - 1.0)]
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True


@dataclass(slots=True)
class Limits:
    windows: dict[str, Window]
    refusals: list[float] = field(default_factory=list)

    @classmethod
    def per_socket(cls, sends_per_second: int) -> Limits:
        return cls(
            {
                "send": Window(sends_per_second),
                "typing": Window(TYPING_PER_SECOND),
                "other": Window(OTHER_PER_SECOND),
                MERGED_READ: Window(MERGED_READS_PER_SECOND),
            }
        )

    def allow(self, frame_type: str) -> bool:
        return self.windows.get(frame_type, self.windows["other"]).take()

    def refused(self) -> bool:
        """Count a refused frame; True when the client is flooding and must be closed."""
        now = time.monotonic()
        self.refusals = [t for t in self.refusals if now - t < FLOOD_WINDOW]
        self.refusals.append(now)
        return len(self.refusals) > FLOOD_REFUSALS
