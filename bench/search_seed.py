"""The listings of bench/search.py: realistic rows, written fast, on a freshly emptied database.

Rows are built from `search_data.py` with one seeded `random.Random`, so every
run seeds the same catalogue; they go in with Core multi-row inserts, as
tests/test_search_plans.py does, and ANALYZE TABLE follows each batch of
growth so the optimizer plans for the size being measured.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

import bench.search_data as data
from persistence.engine import create_schema, short_lived_engine
from persistence.models import Property, User
from persistence.words import index_listings
from tests.live import drop_all_tables

OWNERS = 2_000  # about 50 listings an owner at 100k: brokers and builders list many
BATCH_ROWS = 1_000
SEED = 20261124


def pick_city(rng: random.Random) -> data.City:
    return rng.choices(data.CITIES, weights=[city.share for city in data.CITIES])[0]


def listing(rng: random.Random, owner_id: str, now: datetime) -> dict[str, Any]:
    """One active listing row, every column filled as the API would fill it."""
    city = pick_city(rng)
    place = rng.choice(city.localities)
    kind = rng.choices(data.PROPERTY_TYPES, weights=data.PROPERTY_TYPE_WEIGHTS)[0]
    bhk = "1BHK" if kind == "pg" else rng.choices(data.BHK_TYPES, weights=data.BHK_WEIGHTS)[0]
    typical = city.rent_1bhk * place.premium * data.BHK_RENT_FACTOR[bhk] * data.TYPE_RENT_FACTOR[kind]
    rent = max(2000, round(typical * rng.uniform(0.8, 1.2) / 500) * 500)
    furnishing = rng.choice(data.FURNISHINGS)
    created = now - timedelta(days=rng.uniform(0, 365))
    verified = rng.random() < 0.3
    row_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    lat, lng = place.latitude + rng.gauss(0, 0.008), place.longitude + rng.gauss(0, 0.008)
    return {
        "id": row_id,
        "owner_id": owner_id,
        "title": f"{rng.choice(data.TITLE_WORDS)} {bhk} {data.KIND_WORDS[kind]} in {place.name}",
        "description": description(rng, furnishing),
        "property_type": kind,
        "bhk_type": bhk,
        "rent": Decimal(rent),
        "security_deposit": Decimal(rent * rng.randint(2, 6)),
        "maintenance_charges": Decimal(rng.choice((0, 1000, 1500, 2500, 4000))),
        "address": f"Flat {rng.randint(1, 20)}0{rng.randint(1, 8)}, {place.name}, {city.name}",
        "city": city.name,
        "state": city.state,
        "pincode": place.pincode,
        "locality": place.name,
        "latitude": round(lat, 6),
        "longitude": round(lng, 6),
        "landmarks": [f"{place.name} {rng.choice(data.NEARBY)}"],
        "details": details(rng, bhk, furnishing),
        "furnishing": furnishing,
        "images": [f"/uploads/properties/{row_id}/{rng.getrandbits(64):016x}.jpg" for _ in range(rng.randint(1, 5))],
        "video_url": None,
        "virtual_tour_url": None,
        "is_verified": verified,
        "verification_tier": "basic" if verified else None,
        "verification_date": created + timedelta(days=2) if verified else None,
        "verification_fee_paid": verified,
        "lifestyle_data": lifestyle(rng, created),
        "total_views": int(rng.paretovariate(1.2) * 20),
        "premium_views": 0,
        "total_contacts": rng.randint(0, 5),
        "shortlisted_count": rng.randint(0, 10),
        "last_viewed": None,
        "status": "active",
        "created_at": created,
        "updated_at": created,
    }


def description(rng: random.Random, furnishing: str) -> str:
    sentences = [f"{furnishing.capitalize()} home.", *rng.sample(data.COMMON_SENTENCES, 2)]
    if rng.random() < 0.5:
        sentences.append(rng.choice(data.RARE_FEATURES))
    sentences.append(f"Close to the {rng.choice(data.NEARBY)}.")
    return " ".join(sentences)


def details(rng: random.Random, bhk: str, furnishing: str) -> dict[str, Any]:
    floors = rng.randint(2, 24)
    return {
        "carpet_area": rng.randint(400, 900) * int(bhk[0]),
        "total_floors": floors,
        "floor_number": rng.randint(0, floors - 1),
        "furnishing": furnishing,
        "parking": rng.choice(("none", "two-wheeler", "one car")),
        "amenities": sorted(rng.sample(data.AMENITIES, rng.randint(3, 8))),
        "bathrooms": int(bhk[0]),
        "balconies": rng.randint(0, 3),
        "facing": rng.choice(("North", "South", "East", "West")),
        "age_of_property": rng.randint(0, 25),
        "preferred_tenants": rng.choice(("any", "family", "bachelors")),
        "pets_allowed": rng.random() < 0.35,
    }


def lifestyle(rng: random.Random, at: datetime) -> dict[str, Any]:
    return {
        "aqi_score": rng.randint(20, 300),
        "noise_level": rng.randint(35, 85),
        "walkability_score": rng.randint(0, 100),
        "nearby_parks": rng.randint(0, 6),
        "nearby_hospitals": rng.randint(0, 5),
        "nearby_schools": rng.randint(0, 8),
        "nearby_malls": rng.randint(0, 4),
        "public_transport_score": rng.randint(0, 100),
        "safety_score": rng.randint(0, 100),
        "calculated_at": at.isoformat(timespec="seconds"),
        "is_mock": True,
    }


def owner(n: int, now: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=SEED * 1_000_000 + n, version=4)),
        "email": f"owner{n}@bench-search.example.in",
        "phone": f"+9170{n:08d}",
        "password_hash": "x" * 60,
        "user_type": "owner",
        "full_name": f"Owner {n}",
        "subscription_tier": "free",
        "contacts_used": 0,
        "is_verified_renter": False,
        "is_verified_owner": False,
        "renter_verification_status": "not_submitted",
        "owner_verification_status": "not_submitted",
        "profile_visibility": True,
        "is_admin": False,
        "is_active": True,
        "created_at": now,
        "updated_at": now,
    }


async def prepare(url: str) -> None:
    """Create the database if missing, drop its tables and create today's schema."""
    database = make_url(url).database
    async with short_lived_engine(make_url(url).set(database="").render_as_string(hide_password=False)) as server:
        async with server.begin() as connection:
            await connection.execute(text(f"CREATE DATABASE IF NOT EXISTS `{database}`"))
    await drop_all_tables(url)
    async with short_lived_engine(url) as engine:
        await create_schema(engine)


async def seed(url: str, rng: random.Random, count: int, *, with_owners: bool) -> None:
    """Add `count` listings in multi-row inserts, then ANALYZE so the optimizer sees the new size."""
    now = datetime.now(UTC)
    owner_ids = [owner(n, now)["id"] for n in range(OWNERS)]
    async with short_lived_engine(url) as engine:
        async with engine.begin() as connection:
            if with_owners:
                await connection.execute(insert(User), [owner(n, now) for n in range(OWNERS)])
            for first in range(0, count, BATCH_ROWS):
                rows = [listing(rng, rng.choice(owner_ids), now) for _ in range(min(BATCH_ROWS, count - first))]
                await connection.execute(insert(Property), rows)
                await index_listings(connection, [row["id"] for row in rows])
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE TABLE properties, property_words"))


async def storage(url: str) -> tuple[float, float, float, float]:
    """MB of the properties table's rows, of its indexes, of the word index (rows and key), and of the buffer pool."""
    async with short_lived_engine(url) as engine, engine.connect() as connection:
        sizes = await connection.execute(
            text(
                "SELECT table_name, data_length, index_length FROM information_schema.tables"
                " WHERE table_schema = DATABASE() AND table_name IN ('properties', 'property_words')"
            )
        )
        tables = {name: (rows, indexes) for name, rows, indexes in sizes}
        pool = await connection.scalar(text("SELECT @@innodb_buffer_pool_size"))
    rows, indexes = tables["properties"]
    return rows / 1e6, indexes / 1e6, sum(tables["property_words"]) / 1e6, int(pool or 0) / 1e6


async def buffer_pool_mb(url: str) -> int:
    async with short_lived_engine(url) as engine, engine.connect() as connection:
        return int(await connection.scalar(text("SELECT @@innodb_buffer_pool_size")) or 0) // 2**20


async def set_buffer_pool_mb(url: str, megabytes: int) -> None:
    """Resize the server's InnoDB buffer pool (MariaDB resizes it online, in the background)."""
    async with short_lived_engine(url) as engine, engine.connect() as connection:
        await connection.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {int(megabytes) * 2**20}"))
