"""Renter discovery (`/api/renters/search`): owners find renters looking for what they offer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from errors import Forbidden
from http_api.endpoint import Auth, endpoint
from http_api.schemas.renters import RenterCard, RenterPage, RenterQuery
from persistence import properties, renters
from resources import resources


@endpoint(query=RenterQuery, response=RenterPage, responses={403: "Owners only", 404: "Unknown property"})
async def search(request: Request, *, auth: Auth, query: RenterQuery) -> RenterPage:
    """Visible renters whose preferences fit the filters, or one of the caller's active properties."""
    if not properties.can_list(auth.user):
        raise Forbidden("Only owners can search renters")
    wanted = renters.Wanted(city=query.city, budget=query.budget, bhk_type=query.bhk_type)
    async with resources(request).read() as session:
        if query.property_id is not None:
            prop = await properties.owned(session, query.property_id, auth.user)
            if prop.status != "active":
                raise Forbidden("Only an active listing can be matched with renters")
            wanted = renters.Wanted(
                city=prop.city, budget=prop.rent, bhk_type=prop.bhk_type, property_type=prop.property_type
            )
        found, total = await renters.search(
            session, wanted, exclude_id=auth.user.id, offset=query.offset, limit=query.limit
        )
    cards = [RenterCard.of(user) for user in found]
    return RenterPage(renters=cards, total_count=total, page=query.page, has_more=query.more_after(len(cards), total))


routes = [Route("/renters/search", search, methods=["GET"])]
