"""Rows for demo owners and renters (dicts for a bulk `insert(User)`)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from demo import DEMO_DOMAIN, between, days_ago, demo_id
from demo.people import (
    DESIGNATIONS,
    EMPLOYERS,
    EMPLOYMENT_TYPES,
    FEMALE_NAMES,
    LIFESTYLE_PRIORITIES,
    MALE_NAMES,
    SURNAMES,
)
from demo.places import CITIES
from http_api.schemas.users import RenterPreferences

Row = dict[str, Any]

# The contract's price: premium is bought 90 days at a time.
PREMIUM_DAYS = 90
PREMIUM_SHARE = 0.2
BHK_TYPES = ("1BHK", "2BHK", "3BHK", "4BHK+")
BHK_RENT_FACTOR = {"1BHK": 1.0, "2BHK": 1.6, "3BHK": 2.3, "4BHK+": 3.4}
FURNISHINGS = ("unfurnished", "semi-furnished", "fully-furnished")


def make_users(
    rng: random.Random, kind: str, count: int, first_index: int, password_hash: str, now: datetime
) -> list[Row]:
    """`count` owners or renters; `first_index` keeps emails unique across both lists."""
    rows = []
    for n in range(first_index, first_index + count):
        row = base_user(rng, n, password_hash, now)
        if kind == "owner":
            row["user_type"] = "both" if rng.random() < 0.2 else "owner"
            row["date_of_birth"] = birthday(rng, now, 30, 65)
        else:
            add_renter_fields(rng, row, now)
        rows.append(row)
    return rows


def base_user(rng: random.Random, n: int, password_hash: str, now: datetime) -> Row:
    gender = rng.choice(("female", "male"))
    first = rng.choice(FEMALE_NAMES if gender == "female" else MALE_NAMES)
    last = rng.choice(SURNAMES)
    created = days_ago(now, rng, 30, 400)
    return {
        "id": demo_id(rng),
        "email": f"{first}.{last}.{n}@{DEMO_DOMAIN}".lower(),
        "phone": mobile_number(rng),
        "password_hash": password_hash,
        "user_type": "renter",
        "full_name": f"{first} {last}",
        "profile_photo_url": None,
        "date_of_birth": None,
        "gender": gender,
        "subscription_tier": "free",
        "subscription_start": None,
        "subscription_end": None,
        "contacts_used": 0,
        "is_verified_renter": False,
        "is_verified_owner": False,
        "renter_verification_status": "not_submitted",
        "owner_verification_status": "not_submitted",
        "renter_preferences": None,
        "employment_info": None,
        "profile_visibility": rng.random() < 0.85,
        "is_admin": False,
        "is_active": True,
        "created_at": created,
        "updated_at": between(rng, created, now),
        "last_login": between(rng, created, now, 0.8, 1.0),
    }


def mobile_number(rng: random.Random) -> str:
    # Indian mobile numbers start with 6, 7, 8 or 9.
    return f"+91{rng.choice('6789')}{rng.randrange(10**9):09d}"


def birthday(rng: random.Random, now: datetime, youngest: int, oldest: int) -> date:
    return now.date() - timedelta(days=rng.randint(youngest * 365, oldest * 365))


def add_renter_fields(rng: random.Random, row: Row, now: datetime) -> None:
    row["date_of_birth"] = birthday(rng, now, 21, 42)
    row["renter_preferences"] = renter_preferences(rng, now)
    row["employment_info"] = employment_info(rng, row["renter_preferences"]["preferred_cities"][0])
    if rng.random() < 0.3:
        row["is_verified_renter"], row["renter_verification_status"] = True, "approved"
    if rng.random() < PREMIUM_SHARE:
        # Bought within the last 80 days, so every premium period is still running.
        start = days_ago(now, rng, 0, 80)
        row["subscription_tier"], row["subscription_start"] = "premium", start
        row["subscription_end"] = start + timedelta(days=PREMIUM_DAYS)


def renter_preferences(rng: random.Random, now: datetime) -> dict[str, Any]:
    city = rng.choice(CITIES)
    localities = rng.sample(city.localities, rng.randint(1, 3))
    bhk = rng.choices(BHK_TYPES, weights=(35, 40, 20, 5))[0]
    typical = city.rent_1bhk * BHK_RENT_FACTOR[bhk]
    preferences = RenterPreferences(
        preferred_cities=[city.name],
        preferred_localities=[locality.name for locality in localities],
        budget_min=int(round(typical * 0.7, -3)),
        budget_max=int(round(typical * rng.uniform(1.1, 1.6), -3)),
        bhk_types=[bhk],
        property_types=rng.sample(("apartment", "independent_house", "villa"), rng.randint(1, 2)),
        furnishing=rng.choice(FURNISHINGS),
        move_in_date=now.date() + timedelta(days=rng.randint(7, 75)),
        occupants=rng.randint(1, 4),
        pets=rng.random() < 0.2,
        vegetarian=rng.random() < 0.3,
        lifestyle_priorities=rng.sample(LIFESTYLE_PRIORITIES, rng.randint(2, 4)),
    )
    # Validated through the API's own model, so demo rows have exactly the shape clients send.
    return preferences.model_dump(mode="json")


def employment_info(rng: random.Random, city: str) -> dict[str, Any]:
    kind = rng.choice(EMPLOYMENT_TYPES)
    return {
        "employment_type": kind,
        "company": rng.choice(EMPLOYERS) if kind == "salaried" else None,
        "designation": rng.choice(DESIGNATIONS),
        "monthly_income": rng.randrange(35_000, 300_000, 5_000),
        "work_city": city,
        "years_of_experience": rng.randint(0, 15),
    }
