"""Account shapes: registration, login, profile updates and the user object."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, StringConstraints, field_validator

from http_api.schemas.common import Input, Name, Output, Password, Phone, Url, never_null
from persistence.models import User
from persistence.users import effective_tier

UserType = Literal["renter", "owner", "both"]
BhkType = Literal["1BHK", "2BHK", "3BHK", "4BHK+"]
PropertyType = Literal["apartment", "villa", "independent_house", "pg"]
Furnishing = Literal["unfurnished", "semi-furnished", "fully-furnished"]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Rupees = Annotated[int, Field(ge=0, le=10_000_000)]


class RegisterIn(Input):
    email: EmailStr = Field(max_length=255)
    phone: Phone
    password: Password
    user_type: UserType
    full_name: Name

    @field_validator("email")
    @classmethod
    def lower_email(cls, value: str) -> str:
        return value.lower()


class LoginIn(Input):
    email: str = Field(min_length=1, max_length=255, description="Email address or phone number")
    password: str = Field(min_length=1, max_length=1024)


class RenterPreferences(Input):
    """What a renter looks for; owners search renters by these (city, budget, BHK)."""

    preferred_cities: list[ShortText] = Field(default_factory=list, max_length=10)
    preferred_localities: list[ShortText] = Field(default_factory=list, max_length=20)
    budget_min: Rupees | None = None
    budget_max: Rupees | None = None
    bhk_types: list[BhkType] = Field(default_factory=list, max_length=4)
    property_types: list[PropertyType] = Field(default_factory=list, max_length=4)
    furnishing: Furnishing | None = None
    move_in_date: date | None = None
    occupants: int | None = Field(default=None, ge=1, le=20)
    pets: bool | None = None
    vegetarian: bool | None = None
    lifestyle_priorities: list[ShortText] = Field(default_factory=list, max_length=10)


class UserUpdate(Input):
    """The fields a user may change on their own profile; anything else is a 422."""

    full_name: Name | None = None
    profile_photo_url: Url | None = None
    date_of_birth: date | None = None
    gender: Literal["male", "female", "other", "prefer_not_to_say"] | None = None
    renter_preferences: RenterPreferences | None = None
    profile_visibility: bool | None = None

    # Optional to send, but never cleared: a missing name or visibility breaks other views.
    _not_null = never_null("full_name", "profile_visibility")

    @field_validator("date_of_birth")
    @classmethod
    def adult(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= date.today():
            raise ValueError("date_of_birth must be a past date")
        return value


class UserOut(Output):
    user_id: str
    email: str
    phone: str
    user_type: UserType
    full_name: str
    profile_photo_url: str | None
    date_of_birth: date | None
    gender: str | None
    subscription_tier: Literal["free", "premium"]
    subscription_start: datetime | None
    subscription_end: datetime | None
    contacts_used: int
    is_verified_renter: bool
    is_verified_owner: bool
    renter_verification_status: str
    owner_verification_status: str
    renter_preferences: dict[str, Any] | None
    employment_info: dict[str, Any] | None
    profile_visibility: bool
    is_admin: bool
    created_at: datetime
    last_login: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        fields = {
            name: getattr(user, name) for name in cls.model_fields if name not in ("user_id", "subscription_tier")
        }
        return cls(user_id=user.id, subscription_tier=effective_tier(user), **fields)


class AuthOut(Output):
    user_id: str
    token: str
    user_type: UserType
    user: UserOut


class TicketOut(Output):
    ticket: str
    expires_in: int
