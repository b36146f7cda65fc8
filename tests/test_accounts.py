"""Register, login, me, profile updates: the happy paths and every refusal."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from settings import LoginLimits, Settings
from tests.conftest import TEST_PASSWORD, Register, bearer, serving

NEW_USER = {
    "email": "Priya.Sharma@Example.IN",
    "phone": "+91 98765 43210",
    "password": TEST_PASSWORD,
    "user_type": "renter",
    "full_name": "Priya Sharma",
}


async def login(client: httpx.AsyncClient, identifier: str, password: str = TEST_PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": identifier, "password": password})


async def test_register_returns_token_and_user_without_password(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/auth/register", json=NEW_USER)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"user_id", "token", "user_type", "user"}
    user = body["user"]
    assert user["user_id"] == body["user_id"] and len(body["user_id"]) == 36
    assert user["email"] == "priya.sharma@example.in"
    assert user["phone"] == "+919876543210"
    assert user["subscription_tier"] == "free" and user["contacts_used"] == 0
    assert user["is_admin"] is False and user["profile_visibility"] is True
    assert user["created_at"].endswith("Z")
    assert "password_hash" not in user and "password" not in user
    me = await client.get("/api/auth/me", headers=bearer(body["token"]))
    assert me.status_code == 200 and me.json()["user_id"] == body["user_id"]


@pytest.mark.parametrize(
    "duplicate",
    [
        {"email": "priya.sharma@example.in", "phone": "9000000001"},
        {"email": "other@example.in", "phone": "09876543210"},
    ],
)
async def test_register_refuses_a_used_email_or_phone(client: httpx.AsyncClient, duplicate: dict[str, str]) -> None:
    assert (await client.post("/api/auth/register", json=NEW_USER)).status_code == 201
    r = await client.post("/api/auth/register", json=NEW_USER | duplicate | {"password": "another password"})
    assert r.status_code == 400, r.text
    assert r.json() == {"detail": "Email or phone already registered"}
    assert (await login(client, duplicate["email"], "another password")).status_code == 401


async def test_concurrent_registrations_of_one_email_create_one_account(client: httpx.AsyncClient) -> None:
    bodies = [NEW_USER | {"phone": f"90000000{n:02d}"} for n in range(6)]
    results = await asyncio.gather(*(client.post("/api/auth/register", json=b) for b in bodies))
    assert sorted(r.status_code for r in results) == [201] + [400] * 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": "é" * 37}, "password"),  # 37 characters, 74 bytes: bcrypt's limit is bytes
        ({"email": "not-an-email"}, "email"),
        ({"phone": "12345"}, "phone"),
        ({"phone": 9876543210}, "phone"),
        ({"user_type": "admin"}, "user_type"),
        ({"full_name": "   "}, "full_name"),
        ({"is_admin": True}, "is_admin"),
        ({"subscription_tier": "premium"}, "subscription_tier"),
    ],
)
async def test_register_refuses_bad_fields_and_stores_nothing(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    r = await client.post("/api/auth/register", json=NEW_USER | change)
    assert r.status_code == 422, r.text
    assert any(error["loc"] == ["body", field] for error in r.json()["detail"]), r.text
    assert all(set(error) == {"loc", "msg", "type"} for error in r.json()["detail"])  # no input echoed
    assert (await client.post("/api/auth/register", json=NEW_USER)).status_code == 201


async def test_register_accepts_a_password_of_exactly_72_bytes(client: httpx.AsyncClient) -> None:
    password = "é" * 36  # 72 bytes
    assert (await client.post("/api/auth/register", json=NEW_USER | {"password": password})).status_code == 201
    assert (await login(client, NEW_USER["email"], password)).status_code == 200


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"email": "a@b.in",', {"content-type": "application/json"}),
        (b"[1, 2]", {"content-type": "application/json"}),
        (b"email=a@b.in&password=x", {"content-type": "application/x-www-form-urlencoded"}),
        (b"\xff\xfe", {"content-type": "application/json"}),
    ],
)
async def test_malformed_bodies_get_422(client: httpx.AsyncClient, content: bytes, headers: dict[str, str]) -> None:
    r = await client.post("/api/auth/register", content=content, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body"]


async def test_a_huge_body_gets_413(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/auth/register", json=NEW_USER | {"full_name": "x" * 2_000_000})
    assert r.status_code == 413, r.text


async def test_login_with_email_or_phone_in_any_spelling(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register", json=NEW_USER)
    for identifier in ("priya.sharma@example.in", "PRIYA.SHARMA@example.in", "9876543210", "+91-98765-43210"):
        r = await login(client, identifier)
        assert r.status_code == 200, (identifier, r.text)
        assert r.json()["user"]["last_login"] is not None


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register", json=NEW_USER)
    wrong = await login(client, NEW_USER["email"], "wrong password")
    unknown = await login(client, "nobody@example.in")
    not_a_phone = await login(client, "12")
    for r in (wrong, unknown, not_a_phone):
        assert r.status_code == 401 and r.json() == {"detail": "Invalid credentials"}


async def test_login_refuses_bad_bodies(client: httpx.AsyncClient) -> None:
    for body in ({"email": "a@b.in"}, {"email": "", "password": "x"}, {"email": "a@b.in", "password": 5}):
        assert (await client.post("/api/auth/login", json=body)).status_code == 422


async def test_repeated_failures_lock_the_account_with_retry_after(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register", json=NEW_USER)
    failures = await asyncio.gather(*(login(client, NEW_USER["email"], "wrong password") for _ in range(5)))
    assert [r.status_code for r in failures] == [401] * 5
    locked = await login(client, NEW_USER["email"])  # even the right password waits out the window
    assert locked.status_code == 429, locked.text
    assert 1 <= int(locked.headers["retry-after"]) <= 15 * 60
    assert (await login(client, "9876543210")).status_code == 429  # the phone names the same account
    assert (await login(client, "nobody@example.in")).status_code == 401  # others are not locked out


async def test_a_login_success_resets_the_account_count(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register", json=NEW_USER)
    for _ in range(2):
        for _ in range(4):
            assert (await login(client, NEW_USER["email"], "wrong password")).status_code == 401
        assert (await login(client, NEW_USER["email"])).status_code == 200


async def test_one_address_is_throttled_across_accounts(settings: Settings) -> None:
    limited = replace(settings, login_limits=LoginLimits(per_address=3))
    async with serving(limited) as client:
        for n in range(3):
            assert (await login(client, f"guess{n}@example.in", "wrong password")).status_code == 401
        r = await login(client, "guess9@example.in")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


async def test_concurrent_failures_are_all_counted(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register", json=NEW_USER)
    results = await asyncio.gather(*(login(client, NEW_USER["email"], "wrong password") for _ in range(12)))
    codes = sorted(r.status_code for r in results)
    assert codes.count(401) >= 5 and set(codes) <= {401, 429}
    assert (await login(client, NEW_USER["email"])).status_code == 429


async def test_me_requires_a_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/auth/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    for header in ("Bearer", "Bearer ", "Token abc", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz"):
        assert (await client.get("/api/auth/me", headers={"Authorization": header})).status_code == 401


async def test_update_me_changes_allowed_fields(client: httpx.AsyncClient, register: Register) -> None:
    user = await register()
    changes = {
        "full_name": "Arjun Mehta",
        "profile_photo_url": "https://cdn.example.in/a.jpg",
        "date_of_birth": "1995-04-12",
        "gender": "male",
        "profile_visibility": False,
        "renter_preferences": {
            "preferred_cities": ["Bengaluru"],
            "budget_max": 35000,
            "bhk_types": ["2BHK"],
            "move_in_date": "2027-01-01",
        },
    }
    r = await client.put("/api/users/me", json=changes, headers=bearer(user["token"]))
    assert r.status_code == 200, r.text
    me = (await client.get("/api/auth/me", headers=bearer(user["token"]))).json()
    for field in ("full_name", "profile_photo_url", "date_of_birth", "gender", "profile_visibility"):
        assert me[field] == changes[field]
    assert me["renter_preferences"]["budget_max"] == 35000
    assert me["renter_preferences"]["move_in_date"] == "2027-01-01"
    cleared = await client.put("/api/users/me", json={"profile_photo_url": None}, headers=bearer(user["token"]))
    assert cleared.json()["profile_photo_url"] is None and cleared.json()["full_name"] == "Arjun Mehta"


@pytest.mark.parametrize(
    "change",
    [
        {"is_admin": True},
        {"email": "new@example.in"},
        {"subscription_tier": "premium"},
        {"contacts_used": 0},
        {"password_hash": "x"},
        {"full_name": None},
        {"full_name": ""},
        {"profile_visibility": None},
        {"profile_visibility": "maybe"},
        {"date_of_birth": "2999-01-01"},
        {"date_of_birth": "yesterday"},
        {"gender": "x" * 50},
        {"profile_photo_url": "javascript:alert(1)"},
        {"renter_preferences": {"budget_max": -5}},
        {"renter_preferences": {"bhk_types": ["9BHK"]}},
        {"renter_preferences": {"is_admin": True}},
        {"renter_preferences": "everything"},
    ],
)
async def test_update_me_refuses_other_fields_and_bad_values(
    client: httpx.AsyncClient, register: Register, change: dict[str, object]
) -> None:
    user = await register(full_name="Kept Name")
    r = await client.put("/api/users/me", json={"gender": "female"} | change, headers=bearer(user["token"]))
    assert r.status_code == 422, r.text
    me = (await client.get("/api/auth/me", headers=bearer(user["token"]))).json()
    assert me["full_name"] == "Kept Name" and me["gender"] is None and me["is_admin"] is False
    assert me["subscription_tier"] == "free" and me["email"] == user["user"]["email"]
