"""JWT access tokens: HS256 only, with `exp`, `iat`, `jti` and `sub` required."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from errors import Unauthorized

ALGORITHM = "HS256"  # pinned: a token naming any other algorithm (or none) is refused


@dataclass(frozen=True)
class Claims:
    user_id: str
    jti: str
    expires_at: datetime


def issue_token(user_id: str, secret: str, expiry_hours: int) -> tuple[str, Claims]:
    now = datetime.now(UTC)
    claims = Claims(user_id=user_id, jti=str(uuid.uuid4()), expires_at=now + timedelta(hours=expiry_hours))
    payload = {"sub": user_id, "jti": claims.jti, "iat": now, "exp": claims.expires_at}
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def decode_token(token: str, secret: str) -> Claims:
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "iat", "jti", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token expired") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("Invalid token") from None
    if not isinstance(payload["sub"], str) or not isinstance(payload["jti"], str):
        raise Unauthorized("Invalid token")
    return Claims(payload["sub"], payload["jti"], datetime.fromtimestamp(payload["exp"], UTC))


def new_ticket() -> tuple[str, str]:
    """A one-time WebSocket ticket and the hash that is stored in its place."""
    ticket = secrets.token_urlsafe(32)
    return ticket, ticket_hash(ticket)


def ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()
