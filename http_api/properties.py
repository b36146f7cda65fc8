"""Properties (`/api/properties`): listing, reading, searching and analytics.

The fixed paths (`create`, `search`, `lifestyle-search`, `my-properties`) come
before `/{property_id}` in `routes`, so they are never taken for an id.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from errors import Forbidden, Invalid
from http_api.endpoint import Auth, endpoint, viewer
from http_api.schemas.common import MessageOut, PageQuery
from http_api.schemas.properties import (
    AnalyticsOut,
    CreatedOut,
    ImageUrls,
    LifestyleQuery,
    PropertyIn,
    PropertyOut,
    PropertyPage,
    PropertyUpdate,
    SearchQuery,
)
from persistence import properties, search
from persistence.models import Property, Upload, User
from persistence.types import quiet_update, utcnow
from persistence.users import effective_tier
from resources import Resources, resources
from storage.images import SavedImage, receive_images, remove_images

# A listing shows a gallery, not an archive.
MAX_IMAGES = 20
MAX_FILES_PER_UPLOAD = 10
PROPERTY_IMAGES_URL = "/uploads/properties"


def owner_only(user: User) -> None:
    if not properties.can_list(user):
        raise Forbidden("Only owners can list properties")


async def lifestyle_of(res: Resources, place: Any) -> dict[str, Any]:
    return await res.lifestyle.lifestyle_for(place.latitude, place.longitude, place.city, place.locality or "")


@endpoint(body=PropertyIn, response=CreatedOut, status_code=201, responses={403: "Not an owner"})
async def create(request: Request, *, auth: Auth, body: PropertyIn) -> CreatedOut:
    """List a property; its lifestyle data is computed from the location."""
    owner_only(auth.user)
    res = resources(request)
    lifestyle = await lifestyle_of(res, body.location)  # before the transaction: a real provider is a network call
    async with res.db.begin() as session:
        prop = properties.create(
            session,
            auth.user,
            body.model_dump(exclude={"images", "location", "details"}),
            body.location.model_dump(),
            body.details.model_dump(mode="json", exclude_none=True),
            lifestyle,
        )
    return CreatedOut(property_id=prop.id, property=PropertyOut.of(prop))


@endpoint(query=SearchQuery, response=PropertyPage, access="public")
async def search_properties(request: Request, *, query: SearchQuery) -> PropertyPage:
    """Active properties matching every given filter, paged."""
    filters = search.Filters(**query.model_dump(exclude={"page", "limit", "location"}), locality=query.location)
    async with resources(request).read() as session:
        found = await search.search(session, filters, offset=query.offset, limit=query.limit)
    return page_of(found, query)


@endpoint(query=LifestyleQuery, response=PropertyPage, responses={403: "Premium renters only"})
async def lifestyle_search(request: Request, *, auth: Auth, query: LifestyleQuery) -> PropertyPage:
    """Verified properties by air, noise, walkability and parks: a premium feature."""
    if effective_tier(auth.user) != "premium":
        raise Forbidden("Lifestyle search is for premium members")
    filters = search.LifestyleFilters(**query.model_dump(exclude={"page", "limit"}))
    async with resources(request).read() as session:
        found = await search.lifestyle_search(session, filters, offset=query.offset, limit=query.limit)
    return page_of(found, query)


def page_of(found: search.Found, query: PageQuery) -> PropertyPage:
    items = [PropertyOut.of(prop, distance) for prop, distance in found.rows]
    return PropertyPage(properties=items, total_count=found.total, page=query.page, has_more=found.more)


@endpoint(query=PageQuery, response=PropertyPage, responses={403: "Not an owner"})
async def my_properties(request: Request, *, auth: Auth, query: PageQuery) -> PropertyPage:
    """The caller's properties that are not deleted, newest first."""
    owner_only(auth.user)
    async with resources(request).read() as session:
        mine, total = await properties.mine(session, auth.user.id, offset=query.offset, limit=query.limit)
    more = query.more_after(len(mine), total)
    return page_of(search.Found([(prop, None) for prop in mine], total, more=more), query)


@endpoint(response=PropertyOut, access="public", responses={404: "Unknown or deleted"})
async def get_property(request: Request) -> PropertyOut:
    """A property; each visit by someone other than its owner counts as a view."""
    res, property_id = resources(request), request.path_params["property_id"]
    user = await viewer(request)
    async with res.db.begin() as session:
        prop = await properties.visible(session, property_id)
        if user is None or user.id != prop.owner_id:
            premium = user is not None and effective_tier(user) == "premium"
            await properties.count_view(session, prop.id, premium=premium, now=utcnow())
            await session.refresh(prop)
    return PropertyOut.of(prop)


@endpoint(body=PropertyUpdate, response=PropertyOut, responses={403: "Not the owner", 404: ""})
async def update(request: Request, *, auth: Auth, body: PropertyUpdate) -> PropertyOut:
    """Change listing fields; a move recomputes the lifestyle data."""
    res, property_id = resources(request), request.path_params["property_id"]
    changes = body.model_dump(exclude_unset=True, exclude={"details"})
    if body.details is not None:
        changes["details"] = body.details.model_dump(mode="json", exclude_unset=True)
    async with res.db.begin() as session:
        prop = await properties.owned(session, property_id, auth.user, lock=True)
        if "images" in changes:
            changes["images"] = list(dict.fromkeys(changes["images"]))
            if not set(changes["images"]) <= set(prop.images or []):
                raise Invalid.at(("body", "images"), "images may only reorder or remove uploaded images")
        moved = properties.apply_update(prop, changes)
        prop.updated_at = utcnow()
    if moved:
        await refresh_lifestyle(res, prop)
    return PropertyOut.of(prop)


async def refresh_lifestyle(res: Resources, prop: Property) -> None:
    """Store lifestyle data for the new place, unless another move got there first."""
    prop.lifestyle_data = await lifestyle_of(res, prop)
    async with res.db.begin() as session:
        await session.execute(
            quiet_update(Property)
            .where(
                Property.id == prop.id,
                Property.updated_at == prop.updated_at,  # the place is still the one the data is for
            )
            .values(lifestyle_data=prop.lifestyle_data)
        )


@endpoint(response=MessageOut, responses={403: "Not the owner", 404: ""})
async def delete(request: Request, *, auth: Auth) -> MessageOut:
    """Take a listing down for good: it is kept, marked deleted, and found nowhere."""
    async with resources(request).db.begin() as session:
        prop = await properties.owned(session, request.path_params["property_id"], auth.user, lock=True)
        prop.status, prop.updated_at = "deleted", utcnow()
    return MessageOut(message="Property deleted")


@endpoint(
    response=ImageUrls,
    files_field="files",
    responses={403: "Not the owner", 404: "", 413: "A file over 10 MB", 415: "Not an image", 422: "None, or too many"},
)
async def upload_images(request: Request, *, auth: Auth) -> ImageUrls:
    """Add photos (multipart `files`: JPEG, PNG or WebP, 10 MB each) to the caller's property."""
    res, property_id = resources(request), request.path_params["property_id"]
    async with res.read() as session:  # refuse strangers before reading a byte of their files
        room = MAX_IMAGES - len((await properties.owned(session, property_id, auth.user)).images or [])
    if room <= 0:
        raise Invalid.at(("body", "files"), f"A property has at most {MAX_IMAGES} images; remove some first")
    saved = await receive_images(
        request, res.settings.upload_dir / "properties" / property_id, max_files=min(MAX_FILES_PER_UPLOAD, room)
    )
    urls = [f"{PROPERTY_IMAGES_URL}/{property_id}/{image.stored_name}" for image in saved]
    try:
        async with res.db.begin() as session:
            prop = await properties.owned(session, property_id, auth.user, lock=True)
            if len(prop.images or []) + len(urls) > MAX_IMAGES:  # another upload took the room meanwhile
                raise Invalid.at(("body", "files"), f"A property has at most {MAX_IMAGES} images; remove some first")
            prop.images = [*(prop.images or []), *urls]
            session.add_all(upload_row(auth.user.id, property_id, image, url) for image, url in zip(saved, urls))
    except BaseException:
        await remove_images(saved)
        raise
    return ImageUrls(image_urls=urls)


def upload_row(user_id: str, property_id: str, image: SavedImage, url: str) -> Upload:
    return Upload(
        user_id=user_id,
        purpose="property_image",
        property_id=property_id,
        stored_name=image.stored_name,
        original_name=image.original_name,
        content_type=image.content_type,
        size=image.size,
        url=url,
    )


@endpoint(response=AnalyticsOut, responses={403: "Not the owner", 404: ""})
async def analytics(request: Request, *, auth: Auth) -> AnalyticsOut:
    """Views, contacts and shortlists of the caller's property."""
    async with resources(request).read() as session:
        prop = await properties.owned(session, request.path_params["property_id"], auth.user)
    return AnalyticsOut.model_validate(prop)


routes = [
    Route("/properties/create", create, methods=["POST"]),
    Route("/properties/search", search_properties, methods=["GET"]),
    Route("/properties/lifestyle-search", lifestyle_search, methods=["GET"]),
    Route("/properties/my-properties", my_properties, methods=["GET"]),
    Route("/properties/{property_id}", get_property, methods=["GET"]),
    Route("/properties/{property_id}", update, methods=["PUT"]),
    Route("/properties/{property_id}", delete, methods=["DELETE"]),
    Route("/properties/{property_id}/upload-images", upload_images, methods=["POST"]),
    Route("/properties/{property_id}/analytics", analytics, methods=["GET"]),
]
