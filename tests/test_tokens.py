"""Tokens: what is accepted, what is refused, and logout."""

from __future__ import annotations

import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta

import httpx
import jwt
from sqlalchemy import update

from persistence.engine import make_engine
from persistence.models import RealtimeTicket, User
from persistence.tickets import MAX_OPEN_TICKETS
from settings import DEV_JWT_SECRET, Settings
from tests.conftest import Register, bearer
from tests.live import run_sql


def forge(claims: dict[str, object], secret: str = DEV_JWT_SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)  # HS512 wants 64 bytes
        return jwt.encode(claims, secret, algorithm=algorithm)


def claims_for(user_id: str, **changes: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": user_id, "jti": str(uuid.uuid4()), "iat": now, "exp": now + 3600} | changes


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/auth/me", headers=bearer(token))


async def test_a_well_formed_token_is_accepted(client: httpx.AsyncClient, register: Register) -> None:
    user = await register()
    assert (await me(client, forge(claims_for(user["user_id"])))).status_code == 200


async def test_forged_expired_and_unsigned_tokens_are_refused(client: httpx.AsyncClient, register: Register) -> None:
    user_id = (await register())["user_id"]
    now = int(time.time())
    header, payload, _ = forge(claims_for(user_id)).split(".")
    unsigned = jwt.encode(claims_for(user_id), key=None, algorithm="none")  # type: ignore[arg-type]
    refused = {
        "other secret": forge(claims_for(user_id), secret="someone-elses-secret-of-enough-length"),
        "expired": forge(claims_for(user_id, exp=now - 10, iat=now - 3600)),
        "alg none": unsigned,
        "alg none, signature kept": f"{unsigned.rsplit('.', 1)[0]}.{forge(claims_for(user_id)).split('.')[2]}",
        "HS512": forge(claims_for(user_id), algorithm="HS512"),
        "tampered payload": f"{header}.{forge(claims_for(str(uuid.uuid4()))).split('.')[1]}.{_}",
        "no jti": forge({k: v for k, v in claims_for(user_id).items() if k != "jti"}),
        "no exp": forge({k: v for k, v in claims_for(user_id).items() if k != "exp"}),
        "unknown user": forge(claims_for(str(uuid.uuid4()))),
        "numeric sub": forge(claims_for(user_id, sub=12345)),
        "garbage": "a.b.c",
    }
    for name, token in refused.items():
        r = await me(client, token)
        assert r.status_code == 401, (name, r.text)
        assert isinstance(r.json()["detail"], str)


async def test_logout_revokes_only_that_token(client: httpx.AsyncClient, register: Register) -> None:
    user = await register()
    second = await client.post(
        "/api/auth/login", json={"email": user["user"]["email"], "password": "correct horse battery"}
    )
    other_token = second.json()["token"]
    r = await client.post("/api/auth/logout", headers=bearer(user["token"]))
    assert r.status_code == 200 and r.json() == {"message": "Logged out"}
    assert (await me(client, user["token"])).status_code == 401
    assert (await client.post("/api/auth/logout", headers=bearer(user["token"]))).status_code == 401
    assert (await client.post("/api/realtime/ticket", headers=bearer(user["token"]))).status_code == 401
    assert (await me(client, other_token)).status_code == 200


async def test_logout_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/auth/logout")).status_code == 401


async def test_a_deactivated_user_is_refused(client: httpx.AsyncClient, register: Register, settings: Settings) -> None:
    user = await register()
    engine = make_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(User).where(User.id == user["user_id"]).values(is_active=False))
    finally:
        await engine.dispose()
    assert (await me(client, user["token"])).status_code == 401
    login = {"email": user["user"]["email"], "password": "correct horse battery"}
    assert (await client.post("/api/auth/login", json=login)).status_code == 401


async def test_realtime_ticket_is_one_time_and_short_lived(client: httpx.AsyncClient, register: Register) -> None:
    user = await register()
    first = await client.post("/api/realtime/ticket", headers=bearer(user["token"]))
    second = await client.post("/api/realtime/ticket", headers=bearer(user["token"]))
    assert first.status_code == 200, first.text
    assert first.json()["expires_in"] == 60 and len(first.json()["ticket"]) >= 32
    assert first.json()["ticket"] != second.json()["ticket"]
    assert (await client.post("/api/realtime/ticket")).status_code == 401


async def test_a_ticket_lives_no_longer_than_its_token(client: httpx.AsyncClient, register: Register) -> None:
    user = await register()
    token = forge(claims_for(user["user_id"], exp=int(time.time()) + 10))
    r = await client.post("/api/realtime/ticket", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert 0 < r.json()["expires_in"] <= 10


async def test_a_user_holding_too_many_unused_tickets_is_refused_until_one_expires(
    client: httpx.AsyncClient, register: Register, settings: Settings
) -> None:
    user, other = await register(), await register()
    for _ in range(MAX_OPEN_TICKETS):
        assert (await client.post("/api/realtime/ticket", headers=bearer(user["token"]))).status_code == 200
    refused = await client.post("/api/realtime/ticket", headers=bearer(user["token"]))
    assert refused.status_code == 429, refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert (await client.post("/api/realtime/ticket", headers=bearer(other["token"]))).status_code == 200
    ago = update(RealtimeTicket).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    await run_sql(settings.database_url, lambda session: session.execute(ago))  # a minute later
    assert (await client.post("/api/realtime/ticket", headers=bearer(user["token"]))).status_code == 200
