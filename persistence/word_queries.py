"""What `q` asks of the word index (`property_words`, kept by words.py).

A search by words alone reads the rarest word's listings from the index in
sort order and tests each for the other words with a lookup of the index's
own key: the listing's is_verified, created_at and id are on the row being
tested, so only the word varies, and a word typed expands first to the few
stored words it begins (`lookup_query`). A search that also filters on
listing columns leaves the order of work to the optimizer (`matches`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, and_, exists, func, literal, null, or_, select, union_all
from sqlalchemy.orm import aliased

from persistence.models import Property, PropertyWord
from persistence.words import MIN_PREFIX_CHARS

# A word typed that begins more stored words than this is not walked term by term.
MAX_TERMS = 32
# Nor tested by a key lookup per term, past this many (`with_words`).
MAX_LOOKUPS = 4

Terms = dict[str, list[str]]  # each word typed: the stored words it matches, up to MAX_TERMS + 1


def matching(column: Any, word: str) -> ColumnElement[bool]:
    """`column` holds `word`, or a word it begins (MIN_PREFIX_CHARS): one range of a byte-ordered index.

    A range, not LIKE, which would need escaping and folds case on SQLite.
    """
    if len(word) < MIN_PREFIX_CHARS or word.isdigit():
        return column == word  # type: ignore[no-any-return]
    return and_(column >= word, column < word[:-1] + chr(ord(word[-1]) + 1))


def matches(words: list[str]) -> ColumnElement[bool]:
    """A condition on `properties`: the listing has every word.

    EXISTS, which MariaDB makes a semi-join: it may read a rare word's
    listings first, or test each listing another filter found.
    """
    conditions = []
    for word in words:
        own = aliased(PropertyWord)
        conditions.append(exists().where(own.property_id == Property.id, matching(own.word, word)))
    return and_(*conditions)


def lookup_query(words: list[str], cap: int) -> Select[Any]:
    """Rows (position, term, frequency): each word's stored words, and how many listings have it, counted to `cap`.

    One statement for the lot. The frequencies choose the word whose listings
    are read; a word that is one stored word has as many listings as rows.
    """
    parts = []
    for position, word in enumerate(words):
        terms = select(PropertyWord.word).where(matching(PropertyWord.word, word)).distinct().limit(MAX_TERMS + 1)
        found = terms.subquery()
        parts.append(select(literal(position, Integer), found.c.word, null().cast(Integer)))
        listed = select(PropertyWord.word).where(matching(PropertyWord.word, word)).limit(cap).subquery()
        parts.append(select(literal(position, Integer), null().cast(String), func.count()).select_from(listed))
    return union_all(*parts)  # type: ignore[return-value]


def looked_up(words: list[str], rows: Iterable[Any]) -> tuple[list[str], Terms, dict[str, int]] | None:
    """`lookup_query`'s rows as (the words rarest first, their terms, their frequencies).

    None when a word is in no listing: then nothing matches.
    """
    terms: Terms = {word: [] for word in words}
    frequency = dict.fromkeys(words, 0)
    for position, term, listings in rows:
        if term is None:
            frequency[words[position]] = listings
        else:
            terms[words[position]].append(term)
    if not all(terms.values()):
        return None
    return sorted(words, key=frequency.__getitem__), terms, frequency


def with_words(query: Select[Any], words: list[str], terms: Terms) -> Select[Any]:
    """`query`, over `property_words` rows, kept to rows whose listing also has each of `words`.

    A word with one stored term is a join on the whole key (eq_ref: one
    lookup, the cheapest test there is), and one with a few is a lookup per
    term, ORed. With more terms than that, a range of
    ix_property_words_property: the listing's own words that begin the word.
    Those two are scalar subqueries, never EXISTS or IN, which MariaDB may
    turn into a semi-join or a materialization that reads every listing with
    the word before the walk could stop; and STRAIGHT_JOIN keeps the rows of
    `query` first, so a walk stops at its LIMIT.
    """
    for word in words:
        if len(terms[word]) == 1:
            own = aliased(PropertyWord)
            query = query.join(own, and_(own.word == terms[word][0], same_listing(own)))
        elif len(terms[word]) <= MAX_LOOKUPS:
            lookups = []
            for term in terms[word]:
                own = aliased(PropertyWord)
                lookups.append(found(select(literal(1)).where(own.word == term, same_listing(own))))
            query = query.where(or_(*lookups))
        else:
            own = aliased(PropertyWord)
            query = query.where(
                found(select(literal(1)).where(own.property_id == PropertyWord.property_id, matching(own.word, word)))
            )
    return query.prefix_with("STRAIGHT_JOIN", dialect="mysql")


def found(rows: Select[Any]) -> ColumnElement[bool]:
    """`rows` (correlated) has a row: a subquery MariaDB runs as it is, for each row tested."""
    return rows.limit(1).scalar_subquery().is_not(None)


def same_listing(own: Any) -> ColumnElement[bool]:
    """`own` is a row of the listing of the `property_words` row being tested: the key but its word."""
    return and_(
        own.is_verified == PropertyWord.is_verified,
        own.created_at == PropertyWord.created_at,
        own.property_id == PropertyWord.property_id,
    )


def keys() -> list[Any]:
    """A `property_words` row's listing as search.py pages it: (id, is_verified, created_at)."""
    return [PropertyWord.property_id.label("id"), PropertyWord.is_verified, PropertyWord.created_at]


def listings_with(words: list[str], terms: Terms, *, verified_only: bool) -> Select[Any]:
    """Each active listing with every word, once, as (id, is_verified, created_at).

    The first word's listings, each tested for the others.
    """
    first, *others = words
    query = select(*keys()).select_from(PropertyWord).where(matching(PropertyWord.word, first))
    if verified_only:
        query = query.where(PropertyWord.is_verified.is_(True))
    query = with_words(query, others, terms)
    # A listing is in the first word's range once per term it has.
    return query.distinct() if len(terms[first]) > 1 else query


def walk(words: list[str], terms: Terms, *, verified_only: bool, needed: int) -> Select[Any]:
    """The listings with every word, as (id, is_verified, created_at), the newest of each verification first.

    Each term of the first word and each verification is one range of the key
    in newest-first order, read until `needed` of its listings have the other
    words too (so the rarer they are, the further): merged, these hold the
    first `needed` in the default order and in newest-first order alike; the
    caller sorts them.
    """
    first, *others = words
    verifications = (True,) if verified_only else (True, False)
    parts = []
    for term in terms[first]:
        for verified in verifications:
            walked = select(*keys()).select_from(PropertyWord)
            walked = walked.where(PropertyWord.word == term, PropertyWord.is_verified == verified)
            walked = with_words(walked, others, terms)
            newest = walked.order_by(PropertyWord.created_at.desc(), PropertyWord.property_id.desc()).limit(needed)
            part = newest.subquery()
            parts.append(select(part.c.id, part.c.is_verified, part.c.created_at))
    # A listing found under two terms is one row: UNION, not UNION ALL.
    merged = parts[0].union(*parts[1:]).subquery("merged") if len(parts) > 1 else parts[0].subquery("merged")
    return select(merged.c.id, merged.c.is_verified, merged.c.created_at)
