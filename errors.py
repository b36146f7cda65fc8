"""Errors that application code raises; only the handlers turn them into responses.

    ApiError (status_code, code, detail)
     ├── BadRequest          400 bad_request
     ├── Unauthorized        401 unauthorized
     ├── Forbidden           403 forbidden
     ├── NotFound            404 not_found
     ├── Conflict            409 conflict
     ├── PayloadTooLarge     413 too_large
     ├── UnsupportedMediaType 415 unsupported_media_type
     ├── Invalid             422 validation error, `detail` is a list
     └── RateLimited         429 rate_limited, with `retry_after` seconds

`code` is what a WebSocket `error` frame carries when the same rule refuses a
frame instead of a request.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ApiError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_detail: ClassVar[str] = "Bad request"

    def __init__(self, detail: Any = None) -> None:
        self.detail = self.default_detail if detail is None else detail
        super().__init__(self.detail)


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"
    default_detail = "Not authenticated"


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"
    default_detail = "Not allowed"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"
    default_detail = "Not found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"
    default_detail = "Conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "too_large"
    default_detail = "Payload too large"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "unsupported_media_type"
    default_detail = "Only JPEG, PNG and WebP images are accepted"


class Invalid(ApiError):
    """A validation failure; `detail` is a list of `{loc, msg, type}`."""

    status_code = 422
    code = "bad_frame"
    default_detail = "Invalid input"

    @classmethod
    def at(cls, loc: tuple[str | int, ...], msg: str, type_: str = "value_error") -> Invalid:
        return cls([{"loc": list(loc), "msg": msg, "type": type_}])


class RateLimited(ApiError):
    status_code = 429
    code = "rate_limited"
    default_detail = "Too many requests"

    def __init__(self, detail: Any = None, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)
