"""Renter discovery: owners find visible renters whose preferences fit, and never see how to reach them."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update

from persistence.models import User
from settings import Settings
from tests.conftest import MakeProperty, Register, bearer
from tests.live import run_sql

PREFERENCES: dict[str, dict[str, Any]] = {
    "asha": {"preferred_cities": ["Bengaluru"], "budget_max": 30000, "bhk_types": ["2BHK"]},
    "bilal": {"preferred_cities": ["bengaluru", "Pune"], "budget_max": 60000, "bhk_types": ["2BHK", "3BHK"]},
    "chitra": {"preferred_cities": ["Pune"], "budget_max": 20000, "bhk_types": ["1BHK"]},
    "dev": {"preferred_cities": ["Bengaluru"]},  # no budget, any size
    "esha": {"preferred_cities": ["Bengaluru"], "budget_max": 40000, "property_types": ["villa"]},
}


async def renters(register: Register, client: httpx.AsyncClient, settings: Settings) -> dict[str, dict[str, Any]]:
    people = {}
    for name, preferences in PREFERENCES.items():
        person = await register(full_name=name.title())
        r = await client.put("/api/users/me", json={"renter_preferences": preferences}, headers=bearer(person["token"]))
        assert r.status_code == 200, r.text
        people[name] = person
    hidden = await register(full_name="Hidden")
    await client.put(
        "/api/users/me",
        json={"renter_preferences": PREFERENCES["asha"], "profile_visibility": False},
        headers=bearer(hidden["token"]),
    )
    await run_sql(
        settings.database_url,
        lambda s: s.execute(
            update(User)
            .where(User.id == people["bilal"]["user_id"])
            .values(
                is_verified_renter=True,
                employment_info={
                    "employment_type": "salaried",
                    "company": "Infosys",
                    "monthly_income": 150000,
                    "designation": "Engineer",
                },
            )
        ),
    )
    return people


async def search(client: httpx.AsyncClient, owner: dict[str, Any], **params: Any) -> httpx.Response:
    return await client.get("/api/renters/search", params=params, headers=bearer(owner["token"]))


async def names(client: httpx.AsyncClient, owner: dict[str, Any], **params: Any) -> list[str]:
    r = await search(client, owner, **params)
    assert r.status_code == 200, r.text
    return [card["full_name"].lower() for card in r.json()["renters"]]


async def test_renters_are_matched_by_filters(
    client: httpx.AsyncClient, register: Register, settings: Settings
) -> None:
    await renters(register, client, settings)
    owner = await register(user_type="owner")
    everyone = await names(client, owner)
    assert everyone[0] == "bilal", "verified renters first"
    assert sorted(everyone) == sorted(PREFERENCES), "visible renters only, owners not among them"
    assert sorted(await names(client, owner, city="BENGALURU")) == ["asha", "bilal", "dev", "esha"]
    assert sorted(await names(client, owner, city="Bengaluru", budget=35000)) == ["bilal", "dev", "esha"]
    assert sorted(await names(client, owner, city="Bengaluru", bhk_type="3BHK")) == ["bilal", "dev", "esha"]
    assert await names(client, owner, city="Chennai") == []
    for injected in ("Bengaluru' OR '1'='1", "%%", '["$"]'):
        assert (await search(client, owner, city=injected)).status_code == 422


async def test_renters_who_fit_a_property(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty, settings: Settings
) -> None:
    await renters(register, client, settings)
    owner = await register(user_type="owner")
    flat = await make_property(owner, rent=28000, bhk_type="2BHK")
    villa = await make_property(owner, rent=38000, bhk_type="3BHK", property_type="villa")
    assert sorted(await names(client, owner, property_id=flat)) == ["asha", "bilal", "dev"]
    assert sorted(await names(client, owner, property_id=villa)) == ["bilal", "dev", "esha"]


async def test_a_card_never_shows_contact_details(
    client: httpx.AsyncClient, register: Register, settings: Settings
) -> None:
    people = await renters(register, client, settings)
    owner = await register(user_type="owner")
    r = await search(client, owner, city="Pune")
    body = r.json()
    assert body["total_count"] == 2 and body["page"] == 1 and body["has_more"] is False
    card = body["renters"][0]
    assert card["user_id"] == people["bilal"]["user_id"] and card["is_verified_renter"] is True
    assert card["employment"] == {"employment_type": "salaried", "company": "Infosys", "designation": "Engineer"}
    assert card["renter_preferences"]["budget_max"] == 60000
    text = r.text
    for person in people.values():
        assert person["user"]["email"] not in text and person["user"]["phone"] not in text
    assert "monthly_income" not in text and "password" not in text


async def test_only_owners_search_and_only_their_active_properties(
    client: httpx.AsyncClient, register: Register, make_property: MakeProperty
) -> None:
    renter, owner, other = await register(), await register(user_type="owner"), await register(user_type="owner")
    assert (await search(client, renter)).status_code == 403
    assert (await client.get("/api/renters/search")).status_code == 401
    theirs = await make_property(other)
    rented = await make_property(owner, status="rented")
    assert (await search(client, owner, property_id=theirs)).status_code == 403
    assert (await search(client, owner, property_id=rented)).status_code == 403
    assert (await search(client, owner, property_id="00000000-0000-0000-0000-000000000000")).status_code == 404
    for bad in ({"budget": -5}, {"bhk_type": "7BHK"}, {"limit": 101}, {"page": 0}):
        assert (await search(client, owner, **bad)).status_code == 422, bad
