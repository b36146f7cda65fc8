"""Operator commands, run from the project root: `python -m manage <command> --help`.

    create-admin   make an admin account, or `--promote` an existing one
    seed           fill the database with deterministic demo data for India

Exit status: 0 done; 1 refused (email or phone taken, no such account, the
database unreachable); 2 invalid input (arguments, settings, or values that
break the registration rules). Settings come from the environment and `.env`
exactly as for the server (`DATABASE_URL`, `UPLOAD_DIR`, `BCRYPT_ROUNDS`, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.passwords import Passwords
from demo import DEMO_DOMAIN, DEMO_PASSWORD
from demo.seed import SeedOptions, SeedReport, seed_demo
from errors import BadRequest
from http_api.schemas.users import RegisterIn
from lifestyle import MockLifestyleProvider
from persistence.engine import create_schema, make_engine, make_sessionmaker
from persistence.models import AuditLog, User
from persistence.users import create_user
from settings import Settings, SettingsError, load_settings

# Never an option: a password on the command line lands in shell history and `ps`.
PASSWORD_VARIABLE = "HOMER_ADMIN_PASSWORD"
OPTION_OF_FIELD = {"email": "--email", "phone": "--phone", "full_name": "--name", "password": "password"}
SEED_DESCRIPTION = f"""\
Demo data for India: owners and renters (some premium, some verified),
properties in ten cities with PNG images and mock lifestyle data, chats with
messages, contacts, new_chat notifications and shortlists. The same --seed
gives the same data.

Every demo account's email ends in @{DEMO_DOMAIN} and its password is
{DEMO_PASSWORD}. Seeding again without --reset-demo writes nothing: when any
demo account exists it reports them and exits 0."""

Job = Callable[[Settings, async_sessionmaker[AsyncSession]], Awaitable[None]]


class CommandError(Exception):
    """Ends the command with its message on stderr and `status`, instead of a traceback."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        job = args.prepare(args.command_parser, args)  # input is checked before anything touches the database
        asyncio.run(run(current_settings(), job))
    except CommandError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return 130
    return 0


def current_settings() -> Settings:
    try:
        return load_settings()
    except (SettingsError, ValueError) as error:
        raise CommandError(f"invalid settings: {error}", 2) from None


async def run(settings: Settings, job: Job) -> None:
    try:
        engine = make_engine(settings.database_url)
    except ValueError as error:
        raise CommandError(str(error), 2) from None
    try:
        await create_schema(engine)
        await job(settings, make_sessionmaker(engine))
    except OperationalError as error:
        raise CommandError(f"database: {error.orig}") from None
    finally:
        # Disposed inside the loop that made it (asyncmy #111).
        await engine.dispose()


def prepare_create_admin(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Job:
    if args.promote:
        if args.phone is not None or args.name is not None:
            parser.error("--promote takes only --email")
        email = args.email.strip().lower()
        return lambda settings, db: promote(db, email)
    if args.phone is None or args.name is None:
        parser.error("--phone and --name are required unless --promote is given")
    body = registration(args.email, args.phone, args.name, read_password())
    return lambda settings, db: create_admin(settings, db, body)


def read_password() -> str:
    if (password := os.environ.get(PASSWORD_VARIABLE)) is not None:
        return password
    try:
        password = getpass.getpass("Password: ")
        repeated = getpass.getpass("Password again: ")
    except EOFError:
        raise CommandError(f"no password given (set {PASSWORD_VARIABLE} or type it at the prompt)", 2) from None
    if password != repeated:
        raise CommandError("the two passwords differ", 2)
    return password


def registration(email: str, phone: str, name: str, password: str) -> RegisterIn:
    """The registration rules, applied by the API's own model."""
    try:
        return RegisterIn(email=email, phone=phone, password=password, user_type="both", full_name=name)
    except ValidationError as error:
        raise CommandError("\n".join(describe(detail) for detail in error.errors()), 2) from None


def describe(detail: ErrorDetails) -> str:
    field = str(detail["loc"][0]) if detail["loc"] else "input"
    # Only the message: the input itself may be the password.
    return f"invalid {OPTION_OF_FIELD.get(field, field)}: {detail['msg'].removeprefix('Value error, ')}"


async def create_admin(settings: Settings, db: async_sessionmaker[AsyncSession], body: RegisterIn) -> None:
    password_hash = await Passwords(settings.bcrypt_rounds).hash(body.password)
    try:
        async with db.begin() as session:
            fields = {"email": body.email, "phone": body.phone, "user_type": "both", "full_name": body.full_name}
            user = await create_user(session, password_hash=password_hash, is_admin=True, **fields)
            session.add(audit("create_admin", user.id, None, fields | {"is_admin": True}))
    except BadRequest as error:
        raise CommandError(f"{error.detail}: {body.email} or {body.phone}") from None
    print(f"Created admin {user.email} ({user.phone}), user id {user.id}")


async def promote(db: async_sessionmaker[AsyncSession], email: str) -> None:
    async with db.begin() as session:
        user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            raise CommandError(f"no account with email {email}")
        if user.is_admin:
            print(f"{email} is already an admin")
            return
        user.is_admin = True
        session.add(audit("promote_admin", user.id, {"is_admin": False}, {"is_admin": True}))
    print(f"{email} is now an admin")


def audit(action: str, user_id: str, old: dict[str, Any] | None, new: dict[str, Any]) -> AuditLog:
    # No acting admin and no IP: the operator at the shell made this change.
    return AuditLog(
        admin_id=None,
        action_type=action,
        entity_type="user",
        entity_id=user_id,
        old_values=old,
        new_values=new,
        user_agent="manage.py",
    )


def prepare_seed(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Job:
    if args.messages_per_chat < 1:
        parser.error("--messages-per-chat must be at least 1")
    options = SeedOptions(
        owners=args.owners,
        renters=args.renters,
        properties=args.properties,
        chats=args.chats,
        messages_per_chat=args.messages_per_chat,
        reset_demo=args.reset_demo,
        seed=args.seed,
    )
    return lambda settings, db: seed(settings, db, options)


async def seed(settings: Settings, db: async_sessionmaker[AsyncSession], options: SeedOptions) -> None:
    started = time.perf_counter()
    passwords = Passwords(settings.bcrypt_rounds)
    report = await seed_demo(db, settings.upload_dir, options, passwords, MockLifestyleProvider())
    print_report(report, time.perf_counter() - started)


def print_report(report: SeedReport, seconds: float) -> None:
    if report.removed_users:
        print(f"Removed {report.removed_users} demo users and everything that was theirs.")
    if report.skipped:
        print(f"Demo data already present ({report.existing_users} accounts @{DEMO_DOMAIN}); nothing written.")
        print("Run with --reset-demo to replace it.")
    else:
        print(f"Seeded in {seconds:.1f} s: " + ", ".join(f"{n} {name}" for name, n in report.counts.items()))
    print(f"Demo password (every demo account): {DEMO_PASSWORD}")
    for role, user in (("owner", report.sample_owner), ("renter", report.sample_renter)):
        if user is not None:
            print(f"Sample {role} login: {user.email} or {user.phone}")


def count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m manage", description="Homer operator commands.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    admin = commands.add_parser(
        "create-admin",
        help="create an admin account (or promote one)",
        description=f"Create an admin account. The password is read from {PASSWORD_VARIABLE} if set, "
        "otherwise prompted for twice; it must follow the registration rules (8 to 72 bytes).",
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--phone", help="a 10-digit Indian mobile number, or +<country><number>")
    admin.add_argument("--name", help="full name")
    admin.add_argument("--promote", action="store_true", help="make the existing account with --email an admin")
    admin.set_defaults(prepare=prepare_create_admin, command_parser=admin)
    demo = commands.add_parser(
        "seed",
        help="write demo data",
        description=SEED_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for option, default, meaning in (
        ("owners", 20, "owner accounts (one in five of type both)"),
        ("renters", 60, "renter accounts (about one in five premium)"),
        ("properties", 200, "listings, shared among the owners"),
        ("chats", 80, "renter-owner chats; fewer if free renters' 5-property limit leaves too few pairs"),
        ("messages-per-chat", 12, "messages in each chat"),
    ):
        text = f"{meaning} (default: %(default)s)"
        demo.add_argument(f"--{option}", type=count, default=default, metavar="N", help=text)
    demo.add_argument(
        "--reset-demo",
        action="store_true",
        help=f"first delete every @{DEMO_DOMAIN} account and all that was theirs, uploads included",
    )
    demo.add_argument("--seed", type=int, default=42, help="random seed (default: %(default)s)")
    demo.set_defaults(prepare=prepare_seed, command_parser=demo)
    return parser


if __name__ == "__main__":
    sys.exit(main())
