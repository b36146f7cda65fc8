"""Word search over a property's title, description and locality (`q`).

MariaDB: the FULLTEXT index `ft_properties_text`, queried in boolean mode.
SQLite: an FTS5 table kept in step with `properties` by triggers. Either way
the user's text is reduced to plain words first, so operators and quotes in it
are never query syntax; every word must match, as a prefix ("koram" finds
Koramangala). A `q` with no word the index holds (only "the", or two letters)
filters nothing, as a search box that ignores noise words would.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Connection, literal_column, select, text
from sqlalchemy.sql import Select

from persistence.models import Property

WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORDS = 8
# InnoDB indexes words of at least innodb_ft_min_token_size (3) characters and
# skips its default stopwords; a required (+) word it never indexed matches
# nothing, so such words are left out of the query on both backends alike.
MIN_WORD_CHARS = 3
STOPWORDS = frozenset(
    "about an are as at be by com de en for from how in is it la of on or that the this to was what when where who"
    " will with und www".split()
)

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS properties_fts USING fts5("
    "property_id UNINDEXED, title, description, locality, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS properties_fts_insert AFTER INSERT ON properties BEGIN"
    " INSERT INTO properties_fts (property_id, title, description, locality)"
    " VALUES (new.id, new.title, new.description, new.locality); END",
    "CREATE TRIGGER IF NOT EXISTS properties_fts_update AFTER UPDATE OF title, description, locality ON properties"
    " BEGIN UPDATE properties_fts SET title = new.title, description = new.description, locality = new.locality"
    " WHERE property_id = new.id; END",
    "CREATE TRIGGER IF NOT EXISTS properties_fts_delete AFTER DELETE ON properties BEGIN"
    " DELETE FROM properties_fts WHERE property_id = old.id; END",
]


def create_sqlite_index(connection: Connection) -> None:
    """Create the FTS5 table and its triggers if missing, and index properties that predate them."""
    for statement in SQLITE_DDL:
        connection.exec_driver_sql(statement)
    if connection.exec_driver_sql("SELECT count(*) FROM properties_fts").scalar() == 0:
        connection.exec_driver_sql(
            "INSERT INTO properties_fts (property_id, title, description, locality)"
            " SELECT id, title, description, locality FROM properties"
        )


def search_words(q: str) -> list[str]:
    """The words of `q` that the index can match, lowercased, at most MAX_WORDS."""
    words = [w.lower() for w in WORD.findall(q)]
    kept = [w for w in dict.fromkeys(words) if len(w) >= MIN_WORD_CHARS and w not in STOPWORDS]
    return kept[:MAX_WORDS]


def matches(dialect: str, words: list[str]) -> ColumnElement[bool]:
    """A condition on `properties` true when every word is in title, description or locality."""
    if dialect == "mysql":
        query = " ".join(f"+{word}*" for word in words)
        return text(
            "MATCH (properties.title, properties.description, properties.locality) AGAINST (:q IN BOOLEAN MODE)"
        ).bindparams(q=query)  # type: ignore[return-value]
    query = " ".join(f'"{word}"*' for word in words)
    found: Select[tuple[str]] = (
        select(literal_column("property_id"))
        .select_from(text("properties_fts"))
        .where(text("properties_fts MATCH :q").bindparams(q=query))
    )
    return Property.id.in_(found)
