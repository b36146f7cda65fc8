"""Rows for demo properties, with every column filled, and the PNG images they show."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from demo import DEMO_DOMAIN, between, demo_id, texts
from demo.accounts import BHK_RENT_FACTOR, BHK_TYPES, FURNISHINGS, Row
from demo.places import CITIES, City, Locality
from demo.png import gradient_png

PROPERTY_TYPES = ("apartment", "villa", "independent_house", "pg")
TYPE_RENT_FACTOR = {"apartment": 1.0, "villa": 1.8, "independent_house": 0.9, "pg": 0.45}
CARPET_AREA = {"1BHK": (450, 650), "2BHK": (850, 1200), "3BHK": (1250, 1800), "4BHK+": (2000, 3500)}
AMENITIES = (
    "lift", "power backup", "24x7 security", "gym", "swimming pool", "clubhouse", "children's play area",
    "gated community", "CCTV", "intercom", "rainwater harvesting", "visitor parking", "piped gas", "wifi",
)  # fmt: skip
PARKING = ("none", "two-wheeler", "one car", "two cars")
FACINGS = ("North", "South", "East", "West", "North-East", "North-West", "South-East", "South-West")
TENANTS = ("any", "family", "bachelors", "company lease")
# Earthy wall and sky tones, so the placeholder images look like photos from afar.
COLOURS = ((214, 186, 140), (180, 120, 90), (120, 150, 170), (90, 130, 90), (230, 220, 200), (70, 90, 140))
# About 600 m of a degree: inside the locality, not on top of its centre.
JITTER_DEGREES = 0.006


@dataclass
class Listing:
    row: Row
    locality: Locality
    city: City
    images: list[tuple[str, bytes]]  # (file name, PNG content)


def make_listing(rng: random.Random, owner: Row, now: datetime) -> Listing:
    city = rng.choice(CITIES)
    locality = rng.choice(city.localities)
    property_type = rng.choices(PROPERTY_TYPES, weights=(70, 5, 15, 10))[0]
    bhk = pick_bhk(rng, property_type)
    details = make_details(rng, property_type, bhk, now)
    rent = rent_for(rng, city, locality, bhk, property_type)
    created = between(rng, owner["created_at"], now, 0.05, 0.95)
    property_id = demo_id(rng)
    images = [(f"{rng.getrandbits(128):032x}.png", picture(rng)) for _ in range(rng.randint(2, 4))]
    row = {
        "id": property_id,
        "owner_id": owner["id"],
        "title": texts.title(rng, bhk, property_type, locality.name),
        "description": texts.description(rng, locality.landmarks[0], details["furnishing"]),
        "property_type": property_type,
        "bhk_type": bhk,
        "rent": Decimal(rent),
        "security_deposit": Decimal(rent * deposit_months(rng, city, property_type)),
        "maintenance_charges": Decimal(maintenance(rng, property_type, details["carpet_area"])),
        "address": texts.address(rng, property_type, locality.name, details["floor_number"]),
        "city": city.name,
        "state": city.state,
        "pincode": locality.pincode,
        "locality": locality.name,
        "latitude": round(locality.latitude + rng.uniform(-JITTER_DEGREES, JITTER_DEGREES), 6),
        "longitude": round(locality.longitude + rng.uniform(-JITTER_DEGREES, JITTER_DEGREES), 6),
        "landmarks": list(locality.landmarks),
        "details": details,
        "furnishing": details["furnishing"],
        "images": [f"/uploads/properties/{property_id}/{name}" for name, _ in images],
        "video_url": f"https://media.{DEMO_DOMAIN}/videos/{property_id}.mp4" if rng.random() < 0.3 else None,
        "virtual_tour_url": f"https://tours.{DEMO_DOMAIN}/{property_id}" if rng.random() < 0.2 else None,
        "lifestyle_data": None,  # filled by the seeder from its LifestyleProvider
        "created_at": created,
        "updated_at": between(rng, created, now),
        "status": rng.choices(("active", "rented", "inactive"), weights=(88, 8, 4))[0],
    }
    row |= verification(rng, created, now) | analytics(rng, now)
    return Listing(row, locality, city, images)


def pick_bhk(rng: random.Random, property_type: str) -> str:
    if property_type == "pg":
        return "1BHK"
    if property_type == "villa":
        return rng.choice(("3BHK", "4BHK+"))
    return rng.choices(BHK_TYPES, weights=(30, 40, 22, 8))[0]


def rent_for(rng: random.Random, city: City, locality: Locality, bhk: str, property_type: str) -> int:
    rent = city.rent_1bhk * locality.premium * BHK_RENT_FACTOR[bhk] * TYPE_RENT_FACTOR[property_type]
    return max(500, round(rent * rng.uniform(0.85, 1.15) / 500) * 500)


def deposit_months(rng: random.Random, city: City, property_type: str) -> int:
    return rng.randint(1, 2) if property_type == "pg" else rng.randint(*city.deposit_months)


def maintenance(rng: random.Random, property_type: str, carpet_area: int) -> int:
    # Houses and PGs have no society to pay; flats pay a few rupees a square foot.
    if property_type in ("independent_house", "pg"):
        return 0
    per_square_foot = rng.uniform(2.0, 5.0) if property_type == "apartment" else rng.uniform(3.0, 6.0)
    return int(round(carpet_area * per_square_foot, -2))


def make_details(rng: random.Random, property_type: str, bhk: str, now: datetime) -> dict[str, Any]:
    rooms = int(bhk[0])
    floors = {"apartment": (4, 24), "villa": (2, 3), "independent_house": (1, 3), "pg": (2, 5)}[property_type]
    total_floors = rng.randint(*floors)
    return {
        "carpet_area": rng.randint(*CARPET_AREA[bhk]) // (2 if property_type == "pg" else 1),
        "total_floors": total_floors,
        "floor_number": rng.randint(0, total_floors - 1),
        "furnishing": "fully-furnished" if property_type == "pg" else rng.choice(FURNISHINGS),
        "parking": rng.choice(PARKING),
        "amenities": sorted(rng.sample(AMENITIES, rng.randint(3, 8))),
        "bathrooms": 1 if property_type == "pg" else rng.randint(max(1, rooms - 1), rooms + 1),
        "balconies": rng.randint(0, min(3, rooms)),
        "facing": rng.choice(FACINGS),
        "age_of_property": rng.randint(0, 25),
        "available_from": (now.date() + timedelta(days=rng.randint(0, 60))).isoformat(),
        "preferred_tenants": "bachelors" if property_type == "pg" else rng.choice(TENANTS),
        "pets_allowed": rng.random() < 0.35,
        "vegetarian_only": rng.random() < 0.2,
    }


def verification(rng: random.Random, created: datetime, now: datetime) -> Row:
    verified = rng.random() < 0.35
    return {
        "is_verified": verified,
        "verification_tier": rng.choice(("basic", "premium")) if verified else None,
        "verification_date": between(rng, created, now, 0.0, 0.3) if verified else None,
        "verification_fee_paid": verified,  # verifying a property needs its fee paid first
    }


def analytics(rng: random.Random, now: datetime) -> Row:
    views = min(5_000, int(rng.paretovariate(1.2) * 40))  # a few listings get most views
    return {
        "total_views": views,
        "premium_views": int(views * rng.uniform(0.05, 0.3)),
        "total_contacts": 0,  # counted from the chats the seeder plans
        "shortlisted_count": 0,  # likewise, from shortlists
        "last_viewed": now - timedelta(hours=rng.uniform(1, 96)),
    }


def picture(rng: random.Random) -> bytes:
    top, bottom = rng.sample(COLOURS, 2)
    return gradient_for(top, bottom)


@functools.cache
def gradient_for(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> bytes:
    # 30 colour pairs in all: compressing each once instead of once an image halves a large seed.
    return gradient_png(top, bottom)
