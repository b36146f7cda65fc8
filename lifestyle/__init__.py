"""Lifestyle data for a location: air quality, noise, walkability, what is nearby.

`LifestyleProvider` is the seam. `MockLifestyleProvider` answers without any
external API key, deterministically from the location, and marks its answers
`is_mock: True`; a real provider (air-quality, maps and places APIs) implements
the same Protocol and is chosen where the app is wired together.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Protocol

# Two decimals of a degree is about a kilometre: flats in one neighbourhood share
# their values, while the next neighbourhood differs.
COORDINATE_DECIMALS = 2


class LifestyleProvider(Protocol):
    async def lifestyle_for(
        self, latitude: float | None, longitude: float | None, city: str, locality: str
    ) -> dict[str, Any]:
        """The lifestyle fields of the contract (`aqi_score` … `is_mock`) for one location."""
        ...


class MockLifestyleProvider:
    """Plausible values from a hash of the location: the same place always gets the same numbers."""

    async def lifestyle_for(
        self, latitude: float | None, longitude: float | None, city: str, locality: str
    ) -> dict[str, Any]:
        digest = hashlib.sha256(location_key(latitude, longitude, city, locality).encode()).digest()

        def pick(index: int, low: int, high: int) -> int:
            return low + int.from_bytes(digest[2 * index : 2 * index + 2], "big") % (high - low + 1)

        return {
            "aqi_score": pick(0, 20, 300),
            "noise_level": pick(1, 35, 85),
            "walkability_score": pick(2, 0, 100),
            "nearby_parks": pick(3, 0, 6),
            "nearby_hospitals": pick(4, 0, 5),
            "nearby_schools": pick(5, 0, 8),
            "nearby_malls": pick(6, 0, 4),
            "public_transport_score": pick(7, 0, 100),
            "safety_score": pick(8, 0, 100),
            "calculated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "is_mock": True,
        }


def location_key(latitude: float | None, longitude: float | None, city: str, locality: str) -> str:
    if latitude is None or longitude is None:
        return f"{city.strip().lower()}|{locality.strip().lower()}"
    return f"{latitude:.{COORDINATE_DECIMALS}f},{longitude:.{COORDINATE_DECIMALS}f}"
