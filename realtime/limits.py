"""Per-socket rate limits: token buckets, and the flood rule that ends a socket."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# REALTIME.md: more than 20 sends or 5 typing frames a second are refused.
# The send limit is a setting (WS_SENDS_PER_SECOND, settings.py).
TYPING_PER_SECOND = 5
# Pings, reads and syncs are cheap but not free; a person never sends 30 a second.
OTHER_PER_SECOND = 30
# A client refused this often within FLOOD_WINDOW seconds is not a person: close with 1008.
FLOOD_REFUSALS = 40
FLOOD_WINDOW = 10.0


@dataclass(slots=True)
class Bucket:
    rate: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.rate
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(slots=True)
class Limits:
    buckets: dict[str, Bucket]
    refusals: list[float] = field(default_factory=list)

    @classmethod
    def per_socket(cls, sends_per_second: int) -> Limits:
        return cls(
            {
                "send": Bucket(sends_per_second),
                "typing": Bucket(TYPING_PER_SECOND),
                "other": Bucket(OTHER_PER_SECOND),
            }
        )

    def allow(self, frame_type: str) -> bool:
        return self.buckets.get(frame_type, self.buckets["other"]).take()

    def refused(self) -> bool:
        """Count a refused frame; True when the client is flooding and must be closed."""
        now = time.monotonic()
        self.refusals = [t for t in self.refusals if now - t < FLOOD_WINDOW]
        self.refusals.append(now)
        return len(self.refusals) > FLOOD_REFUSALS
