"""Who is on the other end of a WebSocket: a bearer header, a one-time ticket, or a first `auth` frame.

All three end in the same check as REST: the token's user exists, is active,
and the token is neither expired nor revoked. The endpoint runs that check
once the socket listens to its user's channel, so that a logout is either
seen by the check or reaches the socket as an event, never neither.
"""

from __future__ import annotations

import asyncio

from starlette.websockets import WebSocket, WebSocketDisconnect

import client_json
from auth.tokens import Claims, decode_token, ticket_hash
from errors import Unauthorized
from persistence.tickets import redeem_ticket
from persistence.types import utcnow
from persistence.users import user_for_token
from realtime.frames import payload
from resources import Resources

# REALTIME.md: without a header or ticket, the first frame must authenticate within 5 seconds.
AUTH_FRAME_SECONDS = 5.0
MAX_AUTH_FRAME_BYTES = 8192


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Browsers always send Origin; other clients may omit it, and then there is nothing to check."""
    origin = websocket.headers.get("origin")
    return origin is None or origin in allowed


async def claimed(websocket: WebSocket, res: Resources) -> Claims:
    """The claims an accepted socket presents, before `check`; raises Unauthorized (close with 4401)."""
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return decode_token(token.strip(), str(res.settings.jwt_secret))
    ticket = websocket.query_params.get("ticket")
    if ticket:
        async with res.db.begin() as session:
            claims = await redeem_ticket(session, ticket_hash(ticket), utcnow())
        if claims is None:
            raise Unauthorized("Ticket unknown, expired or already used")
        return claims
    return decode_token(await first_frame_token(websocket), str(res.settings.jwt_secret))


async def first_frame_token(websocket: WebSocket) -> str:
    try:
        message = await asyncio.wait_for(websocket.receive(), AUTH_FRAME_SECONDS)
    except TimeoutError:
        raise Unauthorized("No credentials within 5 seconds") from None
    except (RuntimeError, WebSocketDisconnect):
        raise Unauthorized("Expected an auth frame") from None
    data = payload(message)  # text or binary, as every later frame may be; a disconnect has neither
    if not data:
        raise Unauthorized("Expected an auth frame")
    if len(data) > MAX_AUTH_FRAME_BYTES:
        raise Unauthorized("Auth frame too large")
    try:
        frame = client_json.loads(data)
    except ValueError:
        raise Unauthorized("Expected an auth frame") from None
    if not isinstance(frame, dict) or frame.get("type") != "auth" or not isinstance(frame.get("token"), str):
        raise Unauthorized("Expected an auth frame")
    return frame["token"]


async def check(res: Resources, claims: Claims) -> None:
    """Raises Unauthorized unless the token is current and its user active."""
    if claims.expires_at <= utcnow():
        raise Unauthorized("Token expired")
    async with res.read() as session:
        user = await user_for_token(session, claims.user_id, claims.jti)
    if user is None:
        raise Unauthorized("Token revoked or user inactive")
