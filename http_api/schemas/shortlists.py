"""Shortlist shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from http_api.schemas.common import Input, Output, Page
from http_api.schemas.properties import PropertyOut
from persistence.models import Property, Shortlist

PropertyId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=36)]


class ShortlistIn(Input):
    property_id: PropertyId
    notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class ShortlistOut(Output):
    shortlist_id: str
    property_id: str
    notes: str | None
    created_at: datetime
    property: PropertyOut

    @classmethod
    def of(cls, entry: Shortlist, prop: Property) -> ShortlistOut:
        return cls(
            shortlist_id=entry.id,
            property_id=entry.property_id,
            notes=entry.notes,
            created_at=entry.created_at,
            property=PropertyOut.of(prop),
        )


class ShortlistPage(Page):
    shortlists: list[ShortlistOut]
