"""Register, login, logout, me and WebSocket tickets (`/api/auth`, `/api/realtime`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from starlette.requests import Request
from starlette.routing import Route

from auth.tokens import issue_token, new_ticket
from errors import RateLimited, Unauthorized
from http_api.endpoint import Auth, endpoint
from http_api.schemas.common import MessageOut, normalize_phone
from http_api.schemas.users import AuthOut, LoginIn, RegisterIn, TicketOut, UserOut
from persistence import throttle
from persistence.models import User
from persistence.tickets import store_ticket
from persistence.types import utcnow
from persistence.users import create_user, find_by_login, revoke_token
from realtime.outbox import committed
from resources import Resources, resources


@endpoint(
    body=RegisterIn,
    response=AuthOut,
    status_code=201,
    access="public",
    responses={400: "Email or phone already registered"},
)
async def register(request: Request, *, body: RegisterIn) -> AuthOut:
    """Create an account and log it in."""
    res = resources(request)
    password_hash = await res.passwords.hash(body.password)
    async with res.db.begin() as session:
        user = await create_user(
            session,
            email=body.email,
            phone=body.phone,
            password_hash=password_hash,
            user_type=body.user_type,
            full_name=body.full_name,
            last_login=utcnow(),
        )
    return signed_in(res, user)


@endpoint(
    body=LoginIn,
    response=AuthOut,
    access="public",
    responses={401: "Invalid credentials", 429: "Too many failed attempts; see Retry-After"},
)
async def login(request: Request, *, body: LoginIn) -> AuthOut:
    """Log in with email or phone number and password."""
    res = resources(request)
    email, phone = login_identifier(body.email)
    limits = res.settings.login_limits
    window, now = timedelta(seconds=limits.window_seconds), utcnow()
    async with res.read() as session:
        user = await find_by_login(session, email=email, phone=phone)
        # Keyed by the account, not by what was typed: email and phone share one count.
        account_key = f"account:{user.id if user else body.email.strip().lower()}"
        keys = {account_key: limits.per_account, f"address:{client_address(request)}": limits.per_address}
        wait = await throttle.seconds_blocked(session, keys, window, now)
    if wait:
        raise RateLimited("Too many failed login attempts. Try again later.", retry_after=wait)

    valid = await res.passwords.verify(body.password, user.password_hash if user else None)
    async with res.db.begin() as session:
        if user is None or not valid or not user.is_active:
            for key in keys:
                await throttle.record_failure(session, key, window, now)
            user = None
        else:
            await throttle.clear(session, account_key)
            await session.execute(update(User).where(User.id == user.id).values(last_login=now))
            user.last_login = now
    if user is None:
        raise Unauthorized("Invalid credentials")
    return signed_in(res, user)


@endpoint(response=MessageOut)
async def logout(request: Request, *, auth: Auth) -> MessageOut:
    """Revoke the token this request carries, for HTTP and WebSocket alike."""
    async with committed(resources(request)) as (session, outbox):
        await revoke_token(session, jti=auth.claims.jti, user_id=auth.user.id, expires_at=auth.claims.expires_at)
        # Sockets opened with this token (directly or through a ticket) close with 4401.
        outbox.add([auth.user.id], {"type": "_revoked", "jti": auth.claims.jti})
    return MessageOut(message="Logged out")


@endpoint(response=UserOut)
async def me(request: Request, *, auth: Auth) -> UserOut:
    """The signed-in user."""
    return UserOut.of(auth.user)


@endpoint(response=TicketOut, responses={429: "Too many unused tickets"})
async def realtime_ticket(request: Request, *, auth: Auth) -> TicketOut:
    """A one-time credential for opening `/ws` without a token in the URL, for 60 seconds at most.

    No longer than the token it stands for: `expires_in` says when it stops working.
    """
    ticket, ticket_hash = new_ticket()
    async with resources(request).db.begin() as session:
        expires_in = await store_ticket(session, auth.claims, ticket_hash)
    return TicketOut(ticket=ticket, expires_in=expires_in)


def signed_in(res: Resources, user: User) -> AuthOut:
    token, _ = issue_token(user.id, str(res.settings.jwt_secret), res.settings.jwt_expiry_hours)
    return AuthOut(user_id=user.id, token=token, user_type=user.user_type, user=UserOut.of(user))


def login_identifier(value: str) -> tuple[str | None, str | None]:
    """(email, phone): the login field holds either, told apart by the `@`."""
    value = value.strip()
    if "@" in value:
        return value.lower(), None
    try:
        return None, normalize_phone(value)
    except ValueError:
        return None, None


def client_address(request: Request) -> str:
    # Behind a proxy, uvicorn's --proxy-headers (with --forwarded-allow-ips) puts the real client here.
    return request.client.host if request.client else "unknown"


routes = [
    Route("/auth/register", register, methods=["POST"]),
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/auth/me", me, methods=["GET"]),
    Route("/realtime/ticket", realtime_ticket, methods=["POST"]),
]
