"""The signed-in user's own profile (`/api/users`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from errors import Unauthorized
from http_api.endpoint import Auth, endpoint
from http_api.schemas.users import UserOut, UserUpdate
from persistence.models import User
from resources import resources


@endpoint(body=UserUpdate, response=UserOut)
async def update_me(request: Request, *, auth: Auth, body: UserUpdate) -> UserOut:
    """Change the allowed profile fields; any other field is refused with 422."""
    changes = body.model_dump(exclude_unset=True)
    if body.renter_preferences is not None:
        changes["renter_preferences"] = body.renter_preferences.model_dump(mode="json")
    async with resources(request).db.begin() as session:
        user = await session.get(User, auth.user.id)
        if user is None:
            raise Unauthorized("User no longer exists")
        for field, value in changes.items():
            setattr(user, field, value)
    return UserOut.of(user)


routes = [Route("/users/me", update_me, methods=["PUT"])]
