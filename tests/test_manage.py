"""`python -m manage`: the real command in a child process, its effects seen through the API and the database."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from demo import DEMO_DOMAIN, DEMO_PASSWORD
from demo.seed import is_demo_user
from lifestyle import MockLifestyleProvider
from persistence.engine import make_engine, make_sessionmaker
from persistence.models import Chat, Contact, Message, Property, User
from settings import Settings
from tests.conftest import TEST_PASSWORD, Register, bearer

PROJECT_DIR = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "a long admin password"
ADMIN = ("--email", "Asha.Admin@Homer.IN", "--phone", "98765 43210", "--name", "Asha Admin")
SMALL_SEED = ("--owners", "3", "--renters", "5", "--properties", "10", "--chats", "6", "--messages-per-chat", "5")


@dataclass
class Finished:
    status: int
    stdout: str
    stderr: str


async def manage(settings: Settings, *args: str, password: str | None = None, typed: str = "") -> Finished:
    """Run `python -m manage` against the test's database; `typed` is what the prompts read."""
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "UPLOAD_DIR": str(settings.upload_dir),
        "BCRYPT_ROUNDS": "4",
    }
    env.pop("HOMER_ADMIN_PASSWORD", None)
    if password is not None:
        env["HOMER_ADMIN_PASSWORD"] = password
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "manage",
        *args,
        cwd=PROJECT_DIR,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # no controlling terminal, so getpass reads the prompts' answers from stdin
    )
    out, err = await process.communicate(typed.encode())
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def user_count(settings: Settings) -> int:
    async with database(settings) as session:
        return await session.scalar(select(func.count()).select_from(User)) or 0


async def login(client: httpx.AsyncClient, identifier: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": identifier, "password": password})


async def me(client: httpx.AsyncClient, identifier: str, password: str) -> dict[str, object]:
    r = await login(client, identifier, password)
    assert r.status_code == 200, r.text
    answer = await client.get("/api/auth/me", headers=bearer(r.json()["token"]))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_create_admin_makes_an_admin_who_can_log_in(client: httpx.AsyncClient, settings: Settings) -> None:
    done = await manage(settings, "create-admin", *ADMIN, password=ADMIN_PASSWORD)
    assert done.status == 0, done.stderr
    user = await me(client, "asha.admin@homer.in", ADMIN_PASSWORD)
    assert user["is_admin"] is True and user["user_type"] == "both"
    assert user["phone"] == "+919876543210" and user["full_name"] == "Asha Admin"
    assert ADMIN_PASSWORD not in done.stdout + done.stderr


async def test_create_admin_reads_the_password_from_two_prompts(client: httpx.AsyncClient, settings: Settings) -> None:
    done = await manage(settings, "create-admin", *ADMIN, typed=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert done.status == 0, done.stderr
    assert (await me(client, "asha.admin@homer.in", ADMIN_PASSWORD))["is_admin"] is True


async def test_create_admin_refuses_two_different_passwords(client: httpx.AsyncClient, settings: Settings) -> None:
    done = await manage(settings, "create-admin", *ADMIN, typed=f"{ADMIN_PASSWORD}\nsomething else\n")
    assert done.status == 2
    assert "the two passwords differ" in done.stderr and "Traceback" not in done.stderr
    assert await user_count(settings) == 0


@pytest.mark.parametrize(
    "taken",
    [{"email": "asha.admin@homer.in", "phone": "9000000001"}, {"email": "other@example.in", "phone": "+919876543210"}],
)
async def test_create_admin_refuses_a_taken_email_or_phone(
    client: httpx.AsyncClient, settings: Settings, register: Register, taken: dict[str, str]
) -> None:
    await register(**taken)
    done = await manage(settings, "create-admin", *ADMIN, password=ADMIN_PASSWORD)
    assert done.status == 1
    assert done.stderr.count("\n") == 1 and "Email or phone already registered" in done.stderr
    assert await user_count(settings) == 1
    assert (await login(client, taken["email"], ADMIN_PASSWORD)).status_code == 401
    assert (await me(client, taken["email"], TEST_PASSWORD))["is_admin"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (ADMIN, "invalid password: Password must be at least 8 characters"),
        (("--email", "not-an-email", "--phone", "12345", "--name", "X"), "invalid --email"),
    ],
)
async def test_create_admin_refuses_invalid_input_and_creates_nothing(
    client: httpx.AsyncClient, settings: Settings, args: tuple[str, ...], message: str
) -> None:
    done = await manage(settings, "create-admin", *args, password="short")
    assert done.status == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert await user_count(settings) == 0


async def test_promote_makes_an_existing_user_admin(
    client: httpx.AsyncClient, settings: Settings, register: Register
) -> None:
    await register(email="ravi.kumar@example.in")
    done = await manage(settings, "create-admin", "--promote", "--email", "Ravi.Kumar@Example.in")
    assert done.status == 0, done.stderr
    assert (await me(client, "ravi.kumar@example.in", TEST_PASSWORD))["is_admin"] is True
    again = await manage(settings, "create-admin", "--promote", "--email", "ravi.kumar@example.in")
    assert again.status == 0 and "already an admin" in again.stdout


async def test_promote_refuses_an_unknown_email(client: httpx.AsyncClient, settings: Settings) -> None:
    done = await manage(settings, "create-admin", "--promote", "--email", "nobody@example.in")
    assert done.status == 1
    assert done.stderr == "error: no account with email nobody@example.in\n"


async def test_seed_writes_demo_users_who_can_log_in(client: httpx.AsyncClient, settings: Settings) -> None:
    done = await manage(settings, "seed", *SMALL_SEED)
    assert done.status == 0, done.stderr
    assert DEMO_PASSWORD in done.stdout
    async with database(settings) as session:
        users = (await session.scalars(select(User).where(is_demo_user()))).all()
    assert Counter(user.user_type != "renter" for user in users) == {True: 3, False: 5}
    owner = next(user for user in users if user.user_type in ("owner", "both"))
    renter = next(user for user in users if user.user_type == "renter")
    assert (await me(client, owner.email, DEMO_PASSWORD))["user_id"] == owner.id
    renter_seen = await me(client, renter.phone, DEMO_PASSWORD)
    assert renter_seen["renter_preferences"] and renter_seen["employment_info"]
    assert all(user.email.endswith(f"@{DEMO_DOMAIN}") and user.phone.startswith("+91") for user in users)


async def test_seeded_chats_have_gapless_seqs_and_counted_contacts(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await manage(settings, "seed", *SMALL_SEED)).status == 0
    async with database(settings) as session:
        chats = (await session.scalars(select(Chat))).all()
        messages = (await session.scalars(select(Message).order_by(Message.chat_id, Message.seq))).all()
        contacts = {(c.user_id, c.property_id) for c in (await session.scalars(select(Contact))).all()}
        renters = {u.id: u for u in (await session.scalars(select(User).where(User.user_type == "renter"))).all()}
        properties = {p.id: p for p in (await session.scalars(select(Property))).all()}
    assert len(chats) == 6
    for chat in chats:
        own = [message for message in messages if message.chat_id == chat.id]
        assert [message.seq for message in own] == list(range(1, chat.last_seq + 1)) and chat.last_seq == 5
        assert chat.last_message_at == own[-1].created_at
        assert 0 <= chat.renter_read_seq <= chat.last_seq and 0 <= chat.owner_read_seq <= chat.last_seq
        senders = {"renter": chat.renter_id, "owner": chat.owner_id}
        assert all(message.sender_id == senders[message.sender_type] for message in own)
        assert [m.sender_type for m in own[:2]] in (["renter", "owner"], ["owner", "renter"])
        assert properties[chat.property_id].owner_id == chat.owner_id != chat.renter_id
    assert contacts == {(chat.renter_id, chat.property_id) for chat in chats}
    assert all(r.contacts_used == sum(c.renter_id == r.id for c in chats) for r in renters.values())
    assert all(p.total_contacts == sum(c.property_id == p.id for c in chats) for p in properties.values())


async def test_seeded_properties_have_images_on_disk_and_lifestyle_data(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await manage(settings, "seed", *SMALL_SEED)).status == 0
    async with database(settings) as session:
        properties = (await session.scalars(select(Property))).all()
    assert len(properties) == 10
    for listing in properties:
        assert listing.images and 2 <= len(listing.images) <= 4
        for url in listing.images:
            assert url.startswith(f"/uploads/properties/{listing.id}/") and url.endswith(".png")
            assert (settings.upload_dir / url.removeprefix("/uploads/")).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert listing.details and listing.furnishing == listing.details["furnishing"]
        assert listing.lifestyle_data and listing.lifestyle_data["is_mock"] is True
        assert listing.latitude is not None and 8 < listing.latitude < 29 and listing.pincode.isdigit()


async def test_seeding_twice_keeps_one_copy(client: httpx.AsyncClient, settings: Settings) -> None:
    assert (await manage(settings, "seed", *SMALL_SEED)).status == 0
    again = await manage(settings, "seed", *SMALL_SEED)
    assert again.status == 0, again.stderr
    assert "already present" in again.stdout
    assert await user_count(settings) == 8


async def test_reset_demo_recreates_the_same_data_and_keeps_other_users(
    client: httpx.AsyncClient, settings: Settings, register: Register
) -> None:
    await register(email="real.person@example.in")
    assert (await manage(settings, "seed", *SMALL_SEED)).status == 0
    first = await property_ids(settings)
    stray = settings.upload_dir / "properties" / first[0] / "uploaded-later.png"
    stray.write_bytes(b"\x89PNG\r\n\x1a\n")
    done = await manage(settings, "seed", *SMALL_SEED, "--reset-demo")
    assert done.status == 0, done.stderr
    assert "Removed 8 demo users" in done.stdout
    assert await property_ids(settings) == first  # the same seed, the same data
    assert not stray.exists()
    assert await user_count(settings) == 9
    assert (await login(client, "real.person@example.in", TEST_PASSWORD)).status_code == 200


async def property_ids(settings: Settings) -> list[str]:
    async with database(settings) as session:
        return list((await session.scalars(select(Property.id).order_by(Property.id))).all())


async def test_mock_lifestyle_is_deterministic_and_in_range() -> None:
    provider = MockLifestyleProvider()
    first = await provider.lifestyle_for(12.93521, 77.62448, "Bengaluru", "Koramangala")
    same_place = await provider.lifestyle_for(12.9352, 77.6245, "Bengaluru", "Koramangala")
    elsewhere = await provider.lifestyle_for(28.5245, 77.2066, "Delhi", "Saket")
    unplaced = await provider.lifestyle_for(None, None, "Pune", "Baner")
    assert {k: v for k, v in first.items() if k != "calculated_at"} == {
        k: v for k, v in same_place.items() if k != "calculated_at"
    }
    assert first != elsewhere
    assert unplaced == await provider.lifestyle_for(None, None, " pune", "BANER ") | {
        "calculated_at": unplaced["calculated_at"]
    }
    for values in (first, elsewhere, unplaced):
        assert 20 <= values["aqi_score"] <= 300 and 35 <= values["noise_level"] <= 85
        for score in ("walkability_score", "public_transport_score", "safety_score"):
            assert 0 <= values[score] <= 100
        assert all(0 <= values[f"nearby_{kind}"] <= 8 for kind in ("parks", "hospitals", "schools", "malls"))
        assert values["is_mock"] is True
        assert datetime.fromisoformat(values["calculated_at"]).utcoffset() is not None
