"""Property shapes: what an owner may write, what anyone reads, and the search queries."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from http_api.schemas.common import Input, Output, PageQuery, QueryInput, Url, never_null
from http_api.schemas.users import BhkType, Furnishing, PropertyType, ShortText
from persistence.models import Property
from persistence.search import MAX_PAGED

# Rent is per month in rupees. Nothing in India rents for more than a crore a
# month; a figure past that is a typo (paise, or an extra zero) to refuse.
MAX_RENT = Decimal(10_000_000)
MAX_DEPOSIT = Decimal(100_000_000)
Rent = Annotated[Decimal, Field(gt=0, le=MAX_RENT, max_digits=12, decimal_places=2)]
Charge = Annotated[Decimal, Field(ge=0, le=MAX_DEPOSIT, max_digits=12, decimal_places=2)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=200)]
# Place names and search words are plain text: quotes, wildcards, braces, operators
# and backslashes have no place in them, so they are refused (422) rather than
# passed on to LIKE or a JSON path.
CITY_NAME = re.compile(r"^[^\W\d_]+(?:[ .\-]+[^\W\d_]+)*\.?$")
PLAIN_TEXT = re.compile(r"^(?:[^\W_]|[\s.,\-/&#()])*$")


def city_name(value: str) -> str:
    if not CITY_NAME.match(value):
        raise ValueError("a city name holds only letters, spaces, dots and hyphens")
    return value


def plain_text(value: str) -> str:
    if not PLAIN_TEXT.match(value):
        raise ValueError("only letters, digits, spaces and . , - / & # ( ) are allowed")
    return value


City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100), AfterValidator(city_name)]
Locality = Annotated[str, StringConstraints(strip_whitespace=True, max_length=150), AfterValidator(plain_text)]
Words = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(plain_text)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
ListingStatus = Literal["active", "inactive", "rented"]
SortBy = Literal["price_low", "price_high", "recent", "distance"]


class LocationPatch(Input):
    """Location fields as an update sends them: any subset, merged over the stored location."""

    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    city: City | None = None
    state: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    pincode: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[1-9][0-9]{5}$")] | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    locality: Locality | None = None
    landmarks: list[ShortText] | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def both_coordinates(self) -> LocationPatch:
        if ("latitude" in self.model_fields_set) != ("longitude" in self.model_fields_set):
            raise ValueError("latitude and longitude go together")
        return self

    _not_null = never_null("city")


class LocationIn(LocationPatch):
    city: City


class DetailsIn(Input):
    carpet_area: int | None = Field(default=None, ge=50, le=100_000, description="square feet")
    total_floors: int | None = Field(default=None, ge=0, le=200)
    floor_number: int | None = Field(default=None, ge=-3, le=200)
    furnishing: Furnishing | None = None
    parking: Label | None = None
    amenities: list[ShortText] = Field(default_factory=list, max_length=40)
    bathrooms: int | None = Field(default=None, ge=0, le=20)
    balconies: int | None = Field(default=None, ge=0, le=20)
    facing: Label | None = None
    age_of_property: int | None = Field(default=None, ge=0, le=200, description="years")
    available_from: date | None = None
    preferred_tenants: Label | None = None
    pets_allowed: bool | None = None
    vegetarian_only: bool | None = None


class PropertyUpdate(Input):
    """The listing fields an owner may change; verification, analytics and ownership are not among them."""

    title: Title | None = None
    description: Text | None = None
    property_type: PropertyType | None = None
    bhk_type: BhkType | None = None
    rent: Rent | None = None
    security_deposit: Charge | None = None
    maintenance_charges: Charge | None = None
    location: LocationPatch | None = None
    details: DetailsIn | None = None
    images: list[str] | None = Field(default=None, max_length=30, description="reorder or remove uploaded images")
    video_url: Url | None = None
    virtual_tour_url: Url | None = None
    status: ListingStatus | None = None

    _not_null = never_null(
        "title",
        "description",
        "property_type",
        "bhk_type",
        "rent",
        "security_deposit",
        "maintenance_charges",
        "location",
        "images",
        "status",
    )


class PropertyIn(PropertyUpdate):
    title: Title
    description: Text = ""
    property_type: PropertyType
    bhk_type: BhkType
    rent: Rent
    security_deposit: Charge = Decimal(0)
    maintenance_charges: Charge = Decimal(0)
    location: LocationIn
    details: DetailsIn = Field(default_factory=DetailsIn)
    images: list[str] | None = Field(default=None, max_length=0, description="empty: images are uploaded after")
    status: ListingStatus = "active"


class LocationOut(Output):
    address: str
    city: str
    state: str
    pincode: str
    latitude: float | None
    longitude: float | None
    locality: str
    landmarks: list[str]


class AnalyticsOut(Output):
    total_views: int
    premium_views: int
    total_contacts: int
    shortlisted_count: int
    last_viewed: datetime | None


class PropertyOut(Output):
    property_id: str
    owner_id: str
    title: str
    description: str
    property_type: str
    bhk_type: str
    rent: float
    security_deposit: float
    maintenance_charges: float
    location: LocationOut
    details: dict[str, Any]
    images: list[str]
    video_url: str | None
    virtual_tour_url: str | None
    is_verified: bool
    verification_tier: str | None
    verification_date: datetime | None
    lifestyle_data: dict[str, Any] | None
    analytics: AnalyticsOut
    status: str
    created_at: datetime
    updated_at: datetime
    distance_km: float | None = Field(default=None, description="from the searched point, when one was given")

    @classmethod
    def of(cls, prop: Property, distance_km: float | None = None) -> PropertyOut:
        location = {name: getattr(prop, name) for name in LocationOut.model_fields}
        location["landmarks"] = prop.landmarks or []
        return cls(
            property_id=prop.id,
            **{name: getattr(prop, name) for name in PROPERTY_FIELDS},
            location=LocationOut.model_validate(location),
            details=prop.details or {},
            images=prop.images or [],
            analytics=AnalyticsOut.model_validate(prop),
            distance_km=None if distance_km is None else round(distance_km, 3),
        )


PROPERTY_FIELDS = [
    name
    for name in PropertyOut.model_fields
    if name not in ("property_id", "location", "details", "images", "analytics", "distance_km")
]


class CreatedOut(Output):
    property_id: str
    property: PropertyOut


class PropertyPage(Output):
    properties: list[PropertyOut]
    total_count: int
    page: int
    has_more: bool


class ImageUrls(Output):
    image_urls: list[str]


class Blankless(QueryInput):
    """A form sends `?city=&bhk_type=` for filters left empty: those mean "any", not an invalid value."""

    @model_validator(mode="before")
    @classmethod
    def drop_blanks(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())}
        return data


class SearchQuery(Blankless, PageQuery):
    city: City | None = None
    location: Locality | None = Field(default=None, description="locality, matched from its start")
    min_price: Charge | None = None
    max_price: Charge | None = None
    bhk_type: BhkType | None = None
    property_type: PropertyType | None = None
    furnishing: Furnishing | None = None
    verified_only: bool = False
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(plain_text)] | None = (
        None
    )
    lat: Latitude | None = None
    lng: Longitude | None = None
    radius_km: float | None = Field(default=None, gt=0, le=100)
    sort_by: SortBy | None = None

    @model_validator(mode="after")
    def consistent(self) -> SearchQuery:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("lat and lng go together")
        if self.radius_km is not None and self.lat is None:
            raise ValueError("radius_km needs lat and lng")
        if self.sort_by == "distance" and self.lat is None:
            raise ValueError("sort_by=distance needs lat and lng")
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise ValueError("min_price is above max_price")
        return self

    @model_validator(mode="after")
    def shallow(self) -> SearchQuery:
        if self.offset + self.limit > MAX_PAGED:
            raise ValueError(f"Only the first {MAX_PAGED:,} results are paged; narrow the search")
        return self


class LifestyleQuery(Blankless, PageQuery):
    max_aqi: int | None = Field(default=None, ge=0, le=500)
    max_noise: int | None = Field(default=None, ge=0, le=150, description="decibels")
    min_walkability: int | None = Field(default=None, ge=0, le=100)
    near_parks: bool = False
    budget: Charge | None = Field(default=None, description="highest rent")
    bhk: BhkType | None = None
