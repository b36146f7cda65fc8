"""Renter cards for owners: what a renter chose to show, never how to reach them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import StringConstraints

from http_api.schemas.common import Output, Page, PageQuery
from http_api.schemas.properties import Blankless, Charge, City
from http_api.schemas.users import BhkType
from persistence.models import User

# The parts of employment_info a card shows; income and other details stay private.
EMPLOYMENT_SUMMARY = ("employment_type", "designation", "company", "work_city")


class RenterQuery(Blankless, PageQuery):
    city: City | None = None
    budget: Charge | None = None
    bhk_type: BhkType | None = None
    property_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=36)] | None = None


class RenterCard(Output):
    user_id: str
    full_name: str
    profile_photo_url: str | None
    is_verified_renter: bool
    renter_preferences: dict[str, Any] | None
    employment: dict[str, Any] | None
    member_since: datetime

    @classmethod
    def of(cls, user: User) -> RenterCard:
        info = user.employment_info or {}
        summary = {key: info[key] for key in EMPLOYMENT_SUMMARY if info.get(key) is not None}
        return cls(
            user_id=user.id,
            full_name=user.full_name,
            profile_photo_url=user.profile_photo_url,
            is_verified_renter=user.is_verified_renter,
            renter_preferences=user.renter_preferences,
            employment=summary or None,
            member_since=user.created_at,
        )


class RenterPage(Page):
    renters: list[RenterCard]
