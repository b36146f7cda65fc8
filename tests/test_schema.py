"""`schema.sql` against the models: the same tables, columns, keys and indexes.

The MariaDB tests load `schema.sql` into a scratch database of their own (never
the shared `test` database), reflect it, and list every difference from
`Base.metadata`, one line each.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Inspector, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator, TypeEngine

from persistence.engine import create_schema, schema_statements, short_lived_engine
from persistence.models import Base, LoginThrottle
from persistence.types import utcnow
from tests.conftest import MYSQL_URL

# Per process, so two test runs on one server never share (or drop) each other's.
SCRATCH_DATABASE = f"homer_schema_check_{os.getpid()}"
MYSQL = mysql.dialect()
CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS `?(\w+)`? \(")
CREATE_PROCEDURE = re.compile(r"CREATE PROCEDURE IF NOT EXISTS \w+_v\d+\(")
REFERENCES = re.compile(r"REFERENCES `?(\w+)`?")
JSON_VALID = re.compile(r"^json_valid\(`(\w+)`\)$")


@dataclass(frozen=True)
class Shape:
    """A schema as comparable text: `table` or `table.name` -> description."""

    tables: dict[str, str]
    columns: dict[str, str]
    primary_keys: dict[str, str]
    indexes: dict[str, str]
    foreign_keys: dict[str, str]


async def run_on_server(*statements: str) -> None:
    async with short_lived_engine(MYSQL_URL) as engine, engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


@pytest.fixture
async def scratch_engine() -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database of its own, dropped afterwards."""
    await run_on_server(
        f"DROP DATABASE IF EXISTS `{SCRATCH_DATABASE}`",
        f"CREATE DATABASE `{SCRATCH_DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    )
    url = make_url(MYSQL_URL).set(database=SCRATCH_DATABASE).render_as_string(hide_password=False)
    try:
        async with short_lived_engine(url) as engine:
            yield engine
    finally:
        await run_on_server(f"DROP DATABASE IF EXISTS `{SCRATCH_DATABASE}`")


def test_every_statement_creates_an_innodb_utf8mb4_table_or_a_versioned_procedure_if_not_exists() -> None:
    created = []
    for statement in table_statements():
        created.append(table_created_by(statement))
        options = statement.rsplit(")", 1)[1]
        assert "ENGINE=InnoDB" in options, f"not ENGINE=InnoDB:\n{statement}"
        assert "CHARSET=utf8mb4" in options, f"not CHARSET=utf8mb4:\n{statement}"
    models = set(Base.metadata.tables)
    assert sorted(created) == sorted(models), (
        f"only in schema.sql: {sorted(set(created) - models)}, only in the models: {sorted(models - set(created))}"
    )
    # A procedure is created only if missing, so a changed body needs a new name to reach a server.
    others = [s for s in schema_statements() if not creates_a_table(s) and not CREATE_PROCEDURE.match(s)]
    assert others == []


def test_schema_sql_creates_referenced_tables_first() -> None:
    # MariaDB refuses a foreign key to a table that does not exist yet.
    created: list[str] = []
    for statement in table_statements():
        table = table_created_by(statement)
        missing = set(REFERENCES.findall(statement)) - set(created) - {table}
        assert not missing, f"{table} references {sorted(missing)} before schema.sql creates them"
        created.append(table)


@pytest.mark.mysql
@pytest.mark.timeout(60)
async def test_schema_sql_matches_the_models(scratch_engine: AsyncEngine) -> None:
    async with scratch_engine.begin() as connection:
        for statement in schema_statements():
            await connection.execute(text(statement))
    async with scratch_engine.connect() as connection:
        loaded = await connection.run_sync(reflected_shape)
    differences = shape_differences(model_shape(Base.metadata), loaded)
    assert not differences, "schema.sql differs from persistence/models.py:\n" + "\n".join(differences)


@pytest.mark.mysql
@pytest.mark.timeout(60)
async def test_create_schema_twice_keeps_tables_and_rows(scratch_engine: AsyncEngine) -> None:
    await create_schema(scratch_engine)
    async with scratch_engine.begin() as connection:
        await connection.execute(insert(LoginThrottle).values(key="k", failures=2, window_start=utcnow()))
        first = await connection.run_sync(reflected_shape)
    await create_schema(scratch_engine)
    async with scratch_engine.connect() as connection:
        assert await connection.run_sync(reflected_shape) == first
        assert (await connection.execute(select(LoginThrottle.failures))).scalars().all() == [2]


def creates_a_table(statement: str) -> bool:
    return statement.startswith("CREATE TABLE")


def table_statements() -> list[str]:
    return [statement for statement in schema_statements() if creates_a_table(statement)]


def table_created_by(statement: str) -> str:
    match = CREATE_TABLE.match(statement)
    assert match, f"not CREATE TABLE IF NOT EXISTS:\n{statement}"
    return match.group(1)


def shape_differences(models: Shape, loaded: Shape) -> list[str]:
    lines: list[str] = []
    for field in fields(Shape):
        lines += differences(field.name.replace("_", " "), getattr(models, field.name), getattr(loaded, field.name))
    return lines


def differences(what: str, models: dict[str, str], loaded: dict[str, str]) -> list[str]:
    lines = []
    for key in sorted(models.keys() | loaded.keys()):
        if key not in loaded:
            lines.append(f"{what}: {key} is only in the models: {models[key]}")
        elif key not in models:
            lines.append(f"{what}: {key} is only in schema.sql: {loaded[key]}")
        elif models[key] != loaded[key]:
            lines.append(f"{what}: {key} is {models[key]} in the models but {loaded[key]} in schema.sql")
    return lines


def model_shape(metadata: MetaData) -> Shape:
    tables = metadata.tables.values()
    return Shape(
        tables={table.name: "table" for table in tables},
        columns={
            f"{table.name}.{column.name}": column_text(family(column.type), bool(column.nullable))
            for table in tables
            for column in table.columns
        },
        primary_keys={table.name: columns_text(column.name for column in table.primary_key) for table in tables},
        indexes={f"{table.name}.{name}": index for table in tables for name, index in model_indexes(table).items()},
        foreign_keys={
            f"{table.name}.{fk.name}": fk_text(
                [column.name for column in fk.columns],
                fk.referred_table.name,
                [e.column.name for e in fk.elements],
                fk.ondelete,
            )
            for table in tables
            for fk in table.foreign_key_constraints
        },
    )


def model_indexes(table: Table) -> dict[str, str]:
    """Indexes as MariaDB will show them: unique constraints are unique indexes, and
    a foreign key with no index starting with its columns gets one named after it."""
    indexes: dict[str, tuple[list[str], bool | str]] = {}
    for index in table.indexes:
        kind = index.dialect_options["mysql"]["prefix"] or bool(index.unique)
        indexes[str(index.name)] = ([c.name for c in index.columns], kind)
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            indexes[str(constraint.name)] = ([c.name for c in constraint.columns], True)
    leading = [columns for columns, _ in indexes.values()] + [[c.name for c in table.primary_key]]
    for fk in table.foreign_key_constraints:
        columns = [c.name for c in fk.columns]
        if not any(existing[: len(columns)] == columns for existing in leading):
            indexes[str(fk.name)] = (columns, False)
    return {name: index_text(columns, unique) for name, (columns, unique) in indexes.items()}


def reflected_shape(connection: Connection) -> Shape:
    inspector = inspect(connection)
    names = inspector.get_table_names()
    json_checked = json_valid_columns(connection)
    return Shape(
        tables={name: "table" for name in names},
        columns=each_table(names, lambda name: reflected_columns(inspector, name, json_checked)),
        primary_keys={name: columns_text(inspector.get_pk_constraint(name)["constrained_columns"]) for name in names},
        indexes=each_table(names, lambda name: reflected_indexes(inspector, name)),
        foreign_keys=each_table(names, lambda name: reflected_foreign_keys(inspector, name)),
    )


def each_table(names: list[str], describe: Callable[[str], dict[str, str]]) -> dict[str, str]:
    return {f"{name}.{key}": value for name in names for key, value in describe(name).items()}


def reflected_columns(inspector: Inspector, table: str, json_checked: set[str]) -> dict[str, str]:
    described = {}
    for column in inspector.get_columns(table):
        kind = family(column["type"])
        if isinstance(column["type"], mysql.LONGTEXT):
            kind = "json" if f"{table}.{column['name']}" in json_checked else "longtext without CHECK (json_valid(...))"
        described[column["name"]] = column_text(kind, column["nullable"])
    return described


def reflected_indexes(inspector: Inspector, table: str) -> dict[str, str]:
    return {
        str(index["name"]): index_text(
            index["column_names"], index.get("dialect_options", {}).get("mysql_prefix") or index["unique"]
        )
        for index in inspector.get_indexes(table)
    }


def reflected_foreign_keys(inspector: Inspector, table: str) -> dict[str, str]:
    return {
        str(fk["name"]): fk_text(
            fk["constrained_columns"], fk["referred_table"], fk["referred_columns"], fk["options"].get("ondelete")
        )
        for fk in inspector.get_foreign_keys(table)
    }


def json_valid_columns(connection: Connection) -> set[str]:
    """`table.column` for each MariaDB JSON column: LONGTEXT with CHECK (json_valid(column)).

    SQLAlchemy does not reflect column-level checks, so ask information_schema.
    """
    rows = connection.execute(
        text(
            "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
            " WHERE CONSTRAINT_SCHEMA = DATABASE()"
        )
    )
    return {f"{table}.{column}" for table, clause in rows for column in JSON_VALID.findall(clause)}


def family(type_: TypeEngine[Any]) -> str:
    """A coarse type name that a model column and its reflection agree on."""
    if isinstance(type_, TypeDecorator):
        type_ = type_.load_dialect_impl(MYSQL)
    if isinstance(type_, JSON):
        return "json"
    if isinstance(type_, Text):
        return "text"
    if isinstance(type_, String):
        return f"varchar({type_.length})"
    if isinstance(type_, Boolean) or (isinstance(type_, mysql.TINYINT) and type_.display_width == 1):
        return "boolean"
    if isinstance(type_, Integer):
        return "integer"
    if isinstance(type_, Float):
        return "float"
    if isinstance(type_, Numeric):
        return f"numeric({type_.precision}, {type_.scale})"
    if isinstance(type_, DateTime):
        # Microseconds matter: ordering by time relies on them.
        return f"datetime({getattr(type_, 'fsp', None) or 0})"
    if isinstance(type_, Date):
        return "date"
    return repr(type_)


def column_text(kind: str, nullable: bool) -> str:
    return f"{kind} {'NULL' if nullable else 'NOT NULL'}"


def columns_text(columns: Iterable[str | None]) -> str:
    return f"({', '.join(map(str, columns))})"


def index_text(columns: Iterable[str | None], kind: bool | str) -> str:
    """`kind` is True for a unique index, or MySQL's index prefix (FULLTEXT)."""
    prefix = "UNIQUE " if kind is True else f"{kind} " if kind else ""
    return f"{prefix}{columns_text(columns)}"


def fk_text(columns: list[str], table: str, referred: list[str], ondelete: str | None) -> str:
    return f"{columns_text(columns)} -> {table}{columns_text(referred)} ON DELETE {(ondelete or 'RESTRICT').upper()}"
