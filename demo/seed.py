"""Plan the demo data with one seeded `random.Random`, then write it in batches in one transaction.

Everything is planned in memory first, because counters depend on later
stages (a renter's `contacts_used` on the chats, a property's
`total_contacts` on them too); then each table is written with one
multi-row INSERT per `BATCH_ROWS` rows.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tqdm import tqdm

from auth.passwords import Passwords
from demo import DEMO_DOMAIN, DEMO_PASSWORD
from demo.accounts import Row, make_users, mobile_number
from demo.chats import ChatPlan, chat_rows, make_shortlists, plan_chats
from demo.listings import Listing, make_listing
from lifestyle import LifestyleProvider
from persistence.models import Chat, Contact, Message, Notification, Property, Shortlist, User
from persistence.words import index_listings

# Big enough that 100k messages take a couple of hundred round trips, small enough
# to stay far below MariaDB's max_allowed_packet and SQLite's variable limit.
BATCH_ROWS = 500
T = TypeVar("T")


@dataclass(frozen=True)
class SeedOptions:
    owners: int = 20
    renters: int = 60
    properties: int = 200
    chats: int = 80
    messages_per_chat: int = 12
    reset_demo: bool = False
    seed: int = 42


@dataclass
class Plan:
    owners: list[Row]
    renters: list[Row]
    listings: list[Listing]
    chats: list[ChatPlan]
    shortlists: list[Row]


@dataclass
class SeedReport:
    removed_users: int = 0
    existing_users: int = 0  # demo users found, when seeding was skipped
    counts: dict[str, int] = field(default_factory=dict)
    sample_owner: User | None = None
    sample_renter: User | None = None

    @property
    def skipped(self) -> bool:
        return self.existing_users > 0


def is_demo_user() -> ColumnElement[bool]:
    return User.email.endswith(f"@{DEMO_DOMAIN}", autoescape=True)


async def seed_demo(
    db: async_sessionmaker[AsyncSession],
    upload_dir: Path,
    options: SeedOptions,
    passwords: Passwords,
    lifestyle: LifestyleProvider,
) -> SeedReport:
    """Write the demo data, or do nothing if demo users exist and `reset_demo` is off."""
    report = SeedReport()
    if options.reset_demo:
        report.removed_users = await reset_demo(db, upload_dir)
    async with db() as session:
        report.existing_users = await session.scalar(select(func.count()).where(is_demo_user())) or 0
    if not report.skipped:
        report.counts = await write_demo(db, upload_dir, options, passwords, lifestyle)
    async with db() as session:
        report.sample_owner = await sample_user(session, ("owner", "both"))
        report.sample_renter = await sample_user(session, ("renter",))
    return report


async def write_demo(
    db: async_sessionmaker[AsyncSession],
    upload_dir: Path,
    options: SeedOptions,
    passwords: Passwords,
    lifestyle: LifestyleProvider,
) -> dict[str, int]:
    # Hashed once for every account: bcrypt is slow by design.
    password_hash = await passwords.hash(DEMO_PASSWORD)
    rng, now = random.Random(options.seed), datetime.now(UTC)
    plan = await make_plan(rng, options, password_hash, now, lifestyle)
    try:
        async with db.begin() as session:
            await give_unique_phones(session, rng, plan.owners + plan.renters)
            return await write_plan(session, rng, plan, options.messages_per_chat, now, upload_dir)
    except BaseException:
        for listing in plan.listings:  # nothing was committed, so no image may stay either
            shutil.rmtree(upload_dir / "properties" / listing.row["id"], ignore_errors=True)
        raise


async def sample_user(session: AsyncSession, user_types: tuple[str, ...]) -> User | None:
    query = select(User).where(is_demo_user(), User.user_type.in_(user_types)).order_by(User.created_at).limit(1)
    return await session.scalar(query)


async def reset_demo(db: async_sessionmaker[AsyncSession], upload_dir: Path) -> int:
    """Delete demo users (the foreign keys cascade to all they own) and their uploaded files."""
    async with db.begin() as session:
        user_ids = (await session.scalars(select(User.id).where(is_demo_user()))).all()
        owned = select(Property.id).where(Property.owner_id.in_(select(User.id).where(is_demo_user())))
        property_ids = (await session.scalars(owned)).all()
        for chunk in chunks(user_ids, BATCH_ROWS):
            await session.execute(delete(User).where(User.id.in_(chunk)))
    folders = [upload_dir / "properties" / id_ for id_ in property_ids]
    folders += [upload_dir / "verification" / id_ for id_ in user_ids]
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return len(user_ids)


async def make_plan(
    rng: random.Random, options: SeedOptions, password_hash: str, now: datetime, lifestyle: LifestyleProvider
) -> Plan:
    owners = make_users(rng, "owner", options.owners, 1, password_hash, now)
    renters = make_users(rng, "renter", options.renters, options.owners + 1, password_hash, now)
    listings = []
    for n in range(options.properties if owners else 0):
        # Every owner lists at least one property before anyone lists a second.
        owner = owners[n] if n < len(owners) else rng.choice(owners)
        listings.append(make_listing(rng, owner, now))
    verified_owners = {listing.row["owner_id"] for listing in listings if listing.row["is_verified"]}
    for owner in owners:
        if owner["id"] in verified_owners:
            owner["is_verified_owner"], owner["owner_verification_status"] = True, "approved"
    for listing in listings:
        row = listing.row
        row["lifestyle_data"] = await lifestyle.lifestyle_for(
            row["latitude"], row["longitude"], row["city"], row["locality"]
        )
    rows = [listing.row for listing in listings]
    # Only listings that can be found can be asked about (and owners may only offer active ones).
    chats = plan_chats(rng, renters, owners, [row for row in rows if row["status"] == "active"], options.chats)
    return Plan(owners, renters, listings, chats, make_shortlists(rng, renters, rows, now))


async def give_unique_phones(session: AsyncSession, rng: random.Random, users: list[Row]) -> None:
    """Draw again for a number already in the database (any account) or drawn twice."""
    taken: set[str] = set()
    for chunk in chunks([user["phone"] for user in users], BATCH_ROWS):
        taken.update((await session.scalars(select(User.phone).where(User.phone.in_(chunk)))).all())
    seen: set[str] = set()
    for user in users:
        while user["phone"] in taken or user["phone"] in seen:
            user["phone"] = mobile_number(rng)
        seen.add(user["phone"])


async def write_plan(
    session: AsyncSession, rng: random.Random, plan: Plan, per_chat: int, now: datetime, upload_dir: Path
) -> dict[str, int]:
    users = plan.owners + plan.renters
    with progress(len(users), "users") as bar:
        for chunk in chunks(users, BATCH_ROWS):
            await insert_all(session, User, chunk)
            bar.update(len(chunk))
    with progress(len(plan.listings), "properties") as bar:
        for listings in chunks(plan.listings, BATCH_ROWS):
            await anyio.to_thread.run_sync(write_images, upload_dir, listings)
            await insert_all(session, Property, [listing.row for listing in listings])
            await index_listings(await session.connection(), [listing.row["id"] for listing in listings])
            bar.update(len(listings))
    contacts, notifications, messages = await write_chats(session, rng, plan.chats, per_chat, now)
    await insert_all(session, Contact, contacts)
    await insert_all(session, Notification, notifications)
    await insert_all(session, Shortlist, plan.shortlists)
    return {
        "owners": len(plan.owners),
        "renters": len(plan.renters),
        "premium renters": sum(renter["subscription_tier"] == "premium" for renter in plan.renters),
        "properties": len(plan.listings),
        "verified properties": sum(bool(listing.row["is_verified"]) for listing in plan.listings),
        "images": sum(len(listing.images) for listing in plan.listings),
        "chats": len(plan.chats),
        "messages": messages,
        "contacts": len(contacts),
        "notifications": len(notifications),
        "shortlists": len(plan.shortlists),
    }


async def write_chats(
    session: AsyncSession, rng: random.Random, plans: list[ChatPlan], per_chat: int, now: datetime
) -> tuple[list[Row], list[Row], int]:
    """Chats and their messages, about `BATCH_ROWS` messages at a time; returns contacts, notifications, count."""
    contacts, notifications, messages = [], [], 0
    with progress(len(plans), "chats+messages") as bar:
        for group in chunks(plans, max(1, BATCH_ROWS // per_chat)):
            rows = [chat_rows(rng, plan, per_chat, now) for plan in group]
            await insert_all(session, Chat, [row.chat for row in rows])
            await insert_all(session, Message, [message for row in rows for message in row.messages])
            contacts += [row.contact for row in rows]
            notifications += [row.notification for row in rows]
            messages += sum(len(row.messages) for row in rows)
            bar.update(len(group))
    return contacts, notifications, messages


async def insert_all(session: AsyncSession, model: type[Any], rows: Sequence[Row]) -> None:
    # The Core table, not the ORM entity: ORM bulk inserts add per-row bookkeeping we do not need.
    for chunk in chunks(rows, BATCH_ROWS):
        await session.execute(insert(model.__table__), chunk)


def write_images(upload_dir: Path, listings: Sequence[Listing]) -> None:
    for listing in listings:
        folder = upload_dir / "properties" / listing.row["id"]
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in listing.images:
            (folder / name).write_bytes(content)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def progress(total: int, stage: str) -> tqdm[Any]:
    # disable=None: a bar on a terminal, silence in logs and tests.
    return tqdm(total=total, desc=stage, unit=" rows" if stage != "chats+messages" else " chats", disable=None)
