"""Shortlists (`/api/shortlists`): saving properties for later; the owner hears about each new save."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from errors import NotFound
from http_api.endpoint import Auth, endpoint
from http_api.schemas.common import MessageOut, PageQuery
from http_api.schemas.shortlists import ShortlistIn, ShortlistOut, ShortlistPage
from notifications import notify
from persistence import properties, shortlists
from realtime.outbox import committed
from resources import resources


@endpoint(body=ShortlistIn, response=ShortlistOut, status_code=201, responses={200: "Already shortlisted", 404: ""})
async def add(request: Request, *, auth: Auth, body: ShortlistIn) -> ShortlistOut | Response:
    """Shortlist an active property; shortlisting it again changes only the notes."""
    async with committed(resources(request)) as (session, outbox):
        prop = await properties.visible(session, body.property_id)
        if prop.status != "active":
            raise NotFound("Property not available")
        entry, created = await shortlists.add(session, auth.user.id, prop.id, body.notes)
        if not created and "notes" in body.model_fields_set:
            entry.notes = body.notes
        if created and prop.owner_id != auth.user.id:
            await notify(
                session,
                outbox,
                prop.owner_id,
                type="property_shortlisted",
                title=f"{auth.user.full_name} shortlisted {prop.title}",
                message="A renter saved your listing. They may get in touch soon.",
                action_url=f"/properties/{prop.id}",
            )
        await session.flush()
        await session.refresh(prop)
    out = ShortlistOut.of(entry, prop)
    return out if created else Response(out.model_dump_json(), media_type="application/json")


@endpoint(query=PageQuery, response=ShortlistPage)
async def list_shortlists(request: Request, *, auth: Auth, query: PageQuery) -> ShortlistPage:
    """The caller's shortlist, newest first, each with its property; deleted listings drop out."""
    async with resources(request).read() as session:
        rows, total = await shortlists.page(session, auth.user.id, offset=query.offset, limit=query.limit)
    items = [ShortlistOut.of(entry, prop) for entry, prop in rows]
    more = query.more_after(len(items), total)
    return ShortlistPage(shortlists=items, total_count=total, page=query.page, has_more=more)


@endpoint(response=MessageOut, responses={404: "Not in the shortlist"})
async def remove(request: Request, *, auth: Auth) -> MessageOut:
    """Take a property off the caller's shortlist."""
    async with resources(request).db.begin() as session:
        if not await shortlists.remove(session, auth.user.id, request.path_params["property_id"]):
            raise NotFound("Property is not in your shortlist")
    return MessageOut(message="Removed from shortlist")


routes = [
    Route("/shortlists", add, methods=["POST"]),
    Route("/shortlists", list_shortlists, methods=["GET"]),
    Route("/shortlists/{property_id}", remove, methods=["DELETE"]),
]
