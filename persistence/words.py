"""The word index behind `q`: the words of active listings, in an ordinary B-tree table.

This module decides what a word is and keeps `property_words` in step with
`properties`; `word_queries.py` reads it. The table holds one row per
distinct word of each active listing's title, description and locality,
keyed (word, is_verified, created_at, property_id): one word's listings come
out of one range of the key already in the default sort's order, and whether
a listing has a word is one lookup of that key. A full-text index (InnoDB
FULLTEXT, SQLite FTS5) answers a word only with all of its matches, unordered,
so its cost grows with the catalogue (bench/README.md).

Words are lowercased and stripped of accents. Stopwords and single letters
(but not single digits) are neither stored nor searched, so a `q` of only
"the" filters nothing. A word typed matches as a prefix ("koram" finds
Koramangala) from MIN_PREFIX_CHARS characters; shorter ones and numbers match
whole words ("tt" in "TT Nagar", "6" in "Sector 6" but not "Sector 62").

The table follows `properties` like an index: the ORM flush hook below
rewrites a listing's words whenever its words, status, verification or age
change, in the same transaction. Code that writes listings with Core
statements (seeds, benchmarks) calls `reindex` itself; `stale` finds any
listing whose words were not kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, event, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session, UOWTransaction

from persistence.models import Property, PropertyWord

WORD = re.compile(r"\w+")
MIN_PREFIX_CHARS = 3
MAX_WORD_CHARS = 64  # the column's width; longer words are stored and searched by their first 64 characters
MAX_WORDS = 8
STOPWORDS = frozenset(
    "about an and are as at be by com de en for from how in is it la of on or that the this to was what when where"
    " who will with und www".split()
)
# A listing's words are rewritten when any of these change.
INDEXED = ("title", "description", "locality", "status", "is_verified", "created_at")
BATCH = 500


def normalized(text: str) -> str:
    """Lowercase, without accents: "Café" and "cafe" are one word."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _kept(text: str) -> Iterable[str]:
    """The words of `text` that are stored and searched: not stopwords, and not single letters."""
    for word in WORD.findall(normalized(text)):
        if (len(word) > 1 or word.isdigit()) and word not in STOPWORDS:
            yield word[:MAX_WORD_CHARS]


def words_of(*texts: str | None) -> set[str]:
    """The words a listing is found by."""
    return {word for text in texts if text for word in _kept(text)}


def search_words(q: str) -> list[str]:
    """The words of `q` that can match, in the order typed, at most MAX_WORDS."""
    return list(dict.fromkeys(_kept(q)))[:MAX_WORDS]


# An active listing's row as its words are made from: `properties` columns, or a Property's attributes.
_LISTED = select(
    Property.id, Property.title, Property.description, Property.locality, Property.is_verified, Property.created_at
).where(Property.status == "active")


def reindex(connection: Connection, property_ids: Iterable[str]) -> None:
    """Rewrite the words of these listings from `properties`: none unless active."""
    for batch in _batches(property_ids):
        _replace(connection, batch, connection.execute(_LISTED.where(Property.id.in_(batch))).all())


async def index_listings(connection: AsyncConnection, property_ids: Iterable[str]) -> None:
    """`reindex` for code that wrote listings with Core statements on an async connection."""
    await connection.run_sync(reindex, list(property_ids))


def backfill(connection: Connection) -> None:
    """Index every active listing when the table is empty: a database that predates it.

    Several workers starting at once may all find it empty: each adds the same
    rows in the same order, skipping those another has added.
    """
    if connection.scalar(select(PropertyWord.word).limit(1)) is not None:
        return
    ids = connection.scalars(select(Property.id).where(Property.status == "active").order_by(Property.id)).all()
    for batch in _batches(ids):
        _add(connection, connection.execute(_LISTED.where(Property.id.in_(batch))).all())


def stale(connection: Connection) -> list[str]:
    """Listings whose stored words are not their words now: any is a write to `properties` that skipped `reindex`."""
    expected = set(_entries(connection.execute(_LISTED)))
    stored = {
        (row.word, bool(row.is_verified), row.created_at, row.property_id)
        for row in connection.execute(select(PropertyWord))
    }
    return sorted({entry[3] for entry in expected ^ stored})


def _batches(ids: Iterable[str]) -> Iterable[list[str]]:
    unique = list(dict.fromkeys(ids))
    return (unique[start : start + BATCH] for start in range(0, len(unique), BATCH))


def _entries(listings: Iterable[Any]) -> Iterable[tuple[str, bool, Any, str]]:
    """The `property_words` keys of these active listings (rows of `_LISTED`, or Property objects)."""
    for listing in listings:
        for word in words_of(listing.title, listing.description, listing.locality):
            yield word, bool(listing.is_verified), listing.created_at, listing.id


def _replace(connection: Connection, ids: list[str], listings: Iterable[Any]) -> None:
    connection.execute(delete(PropertyWord).where(PropertyWord.property_id.in_(ids)))
    _add(connection, listings)


def _add(connection: Connection, listings: Iterable[Any]) -> None:
    # Sorted, so workers adding the same rows at once take their locks in the same order.
    rows = sorted(_entries(listings))
    if rows:
        added = insert(PropertyWord).prefix_with("IGNORE", dialect="mysql").prefix_with("OR IGNORE", dialect="sqlite")
        columns = ("word", "is_verified", "created_at", "property_id")
        connection.execute(added, [dict(zip(columns, row, strict=True)) for row in rows])


@event.listens_for(Session, "after_flush")
def _reindex_flushed(session: Session, _flush: UOWTransaction) -> None:
    """Keep the words of listings written through the ORM in step, in the same transaction.

    Made from the flushed objects themselves: their rows need not be read back.
    """
    changed = [prop for prop in session.new if isinstance(prop, Property)]
    changed += [
        prop for prop in session.dirty if isinstance(prop, Property) and any(_changed(prop, name) for name in INDEXED)
    ]
    if changed:
        active = [prop for prop in changed if prop.status == "active"]
        _replace(session.connection(), [prop.id for prop in changed], active)


def _changed(prop: Property, name: str) -> bool:
    return bool(inspect(prop).attrs[name].history.has_changes())
