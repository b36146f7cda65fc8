"""The `endpoint` decorator: authentication, request validation and response shape in one place.

A handler declares its body, query and response models once; the decorator
parses and validates the request against them, and `openapi.py` reads the same
declaration to document the route, so the docs cannot drift from the code.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

import client_json
from auth.tokens import Claims, decode_token
from errors import Forbidden, Invalid, PayloadTooLarge, Unauthorized
from persistence.models import User
from persistence.users import user_for_token
from resources import resources

# JSON bodies here are forms and chat messages; anything near this size is abuse.
MAX_JSON_BODY_BYTES = 1024 * 1024

Access = Literal["public", "user", "admin"]


@dataclass(frozen=True)
class Auth:
    user: User
    claims: Claims


@dataclass(frozen=True)
class EndpointSpec:
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status_code: int
    access: Access
    summary: str
    extra_responses: dict[int, str]
    files_field: str | None = None  # a multipart body of files, read by the handler itself


Handler = Callable[..., Awaitable[Any]]


def endpoint(
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status_code: int = 200,
    access: Access = "user",
    body_in_query: bool = False,
    responses: dict[int, str] | None = None,
    files_field: str | None = None,
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap `handler(request, *, auth?, body?, query?)` as a Starlette endpoint.

    `body_in_query` also accepts the body's fields as query parameters, for the
    calls the original frontend makes that way.
    """

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        adapter = TypeAdapter(response) if response is not None else None

        async def run(request: Request) -> Response:
            kwargs: dict[str, Any] = {}
            if access != "public":
                kwargs["auth"] = await authenticate(request, admin=access == "admin")
            if body is not None:
                kwargs["body"] = await parse_body(request, body, body_in_query)
            if query is not None:
                kwargs["query"] = validate(query, dict(request.query_params), "query")
            result = await handler(request, **kwargs)
            if isinstance(result, Response):
                return result
            content = adapter.dump_json(result) if adapter else json.dumps(result).encode()
            return Response(content, status_code=status_code, media_type="application/json")

        doc = (handler.__doc__ or handler.__name__.replace("_", " ")).strip().splitlines()[0]
        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        run.__api__ = EndpointSpec(  # type: ignore[attr-defined]
            body, query, response, status_code, access, doc, responses or {}, files_field
        )
        return run

    return wrap


async def authenticate(request: Request, *, admin: bool = False) -> Auth:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Not authenticated")
    res = resources(request)
    claims = decode_token(token.strip(), str(res.settings.jwt_secret))
    async with res.read() as session:
        user = await user_for_token(session, claims.user_id, claims.jti)
    if user is None:
        raise Unauthorized("Token revoked or user inactive")
    if admin and not user.is_admin:
        raise Forbidden("Admin access required")
    return Auth(user, claims)


async def viewer(request: Request) -> User | None:
    """The signed-in user on a public page, or None: a stale token there means an anonymous visitor, not a 401."""
    if "authorization" not in request.headers:
        return None
    try:
        return (await authenticate(request)).user
    except Unauthorized:
        return None


async def parse_body(request: Request, model: type[BaseModel], body_in_query: bool) -> BaseModel:
    raw = await read_limited(request, MAX_JSON_BODY_BYTES)
    # Only the body's own fields: other parameters (cache busters, tracking) are ignored, as on any query.
    data: Any = {k: v for k, v in request.query_params.items() if k in model.model_fields} if body_in_query else {}
    if raw.strip():
        try:
            decoded = client_json.loads(raw)
        except ValueError:
            raise Invalid.at(("body",), "Malformed JSON body", "json_invalid") from None
        if not isinstance(decoded, dict):
            raise Invalid.at(("body",), "Body must be a JSON object", "model_type")
        data |= decoded
    return validate(model, data, "body")


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def validate(model: type[BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(validation_detail(exc, where)) from None


def validation_detail(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    """Pydantic's errors in the contract's shape, without echoing the input (it may be a password)."""
    return [
        {"loc": [where, *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
