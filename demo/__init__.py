"""Deterministic demo data for India: `python -m manage seed`.

    places, people, texts   tables of real cities and localities, names, words
    accounts                owner and renter rows
    listings                property rows and their PNG images
    chats                   chats, messages, contacts, notifications, shortlists
    seed                    plans it all with one `random.Random(seed)`, writes it in batches

Every demo account's email ends in `DEMO_DOMAIN`, which is how `--reset-demo`
finds (and cascades from) them, and all share `DEMO_PASSWORD`.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

DEMO_DOMAIN = "demo.homer.in"
DEMO_PASSWORD = "homer-demo-123"


def demo_id(rng: random.Random) -> str:
    """A UUID4 drawn from `rng`, so the same seed gives the same ids (and image paths)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def between(rng: random.Random, start: datetime, end: datetime, low: float = 0.0, high: float = 1.0) -> datetime:
    """A time in the [low, high] share of the way from `start` to `end`."""
    return start + (end - start) * rng.uniform(low, high)


def days_ago(now: datetime, rng: random.Random, low: float, high: float) -> datetime:
    return now - timedelta(days=rng.uniform(low, high))
