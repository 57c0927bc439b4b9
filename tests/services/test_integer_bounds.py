"""Every integer an API accepts fits the column it is stored in or compared with, and
every table model binds its integers as wide as the migrated column.

A declaration with ``approximate_records`` of 2**31 was a 500: the API accepted up to
2**63 - 1 and the migration made a bigint, but the table model said ``int``, which
SQLAlchemy binds as ``$1::INTEGER`` (asyncpg's ``int4_encode`` then overflows). So the
width a value must fit is the narrower of the model's type and the column's.
"""

import importlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import BigInteger, Integer, SmallInteger, text
from sqlmodel import SQLModel

from shared.db import create_engine, migrate
from shared.kafka import ProcessedEvent
from shared.outbox import OutboxMessage
from tests.support import DATABASE_URL, ROOT

pytestmark = pytest.mark.integration

SERVICES = ("registry", "consent", "audit", "breach", "notifier")
LARGEST = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
WIDEST = LARGEST["bigint"]
"""PostgreSQL's widest integer: any integer a service passes to SQL must fit it."""

COMPARED_WITH = {
    ("audit", "cursor"): "seq",
    ("audit", "before"): "tree_size",
    ("audit", "first"): "tree_size",
    ("audit", "second"): "tree_size",
}
"""Inputs named otherwise than the column they are a position in (a page's cursor is an
entry's ``seq``, a consistency proof's sizes are tree sizes)."""


def _largest_of(sa_type: Any) -> int:
    # BigInteger and SmallInteger are Integers: the narrower checks come first.
    if isinstance(sa_type, BigInteger):
        return LARGEST["bigint"]
    if isinstance(sa_type, SmallInteger):
        return LARGEST["smallint"]
    return LARGEST["integer"]


def table_models(service: str) -> Iterator[type[SQLModel]]:
    """The service's table models, and the shared ones every schema holds."""
    models = importlib.import_module(f"services.{service}.models")
    yield OutboxMessage
    yield ProcessedEvent
    for obj in vars(models).values():
        if isinstance(obj, type) and issubclass(obj, SQLModel) and hasattr(obj, "__table__"):
            yield obj


def model_columns(service: str) -> dict[tuple[str, str], int]:
    """(table, column) -> the largest value the model binds, for its integer columns."""
    out = {}
    for model in table_models(service):
        table = model.__table__  # type: ignore[attr-defined]
        for column in table.columns:
            if isinstance(column.type, Integer):
                out[table.name, column.name] = _largest_of(column.type)
    return out


def api_integers(service: str) -> list[tuple[str, str, float]]:
    """(where, name, largest accepted) of every integer the service's API takes in."""
    app = importlib.import_module(f"services.{service}.main").build_app()
    document = app.openapi()
    components = document.get("components", {}).get("schemas", {})
    out: list[tuple[str, str, float]] = []

    def walk(schema: dict[str, Any], where: str, name: str, seen: tuple[str, ...]) -> None:
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[-1]
            if ref not in seen:
                walk(components[ref], where, name, (*seen, ref))
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for part in schema.get(key, []):
                walk(part, where, name, seen)
        if schema.get("type") == "integer":
            largest = min(
                schema.get("maximum", math.inf), schema.get("exclusiveMaximum", math.inf) - 1
            )
            out.append((where, name, largest))
        for field, part in schema.get("properties", {}).items():
            walk(part, f"{where}.{field}", field, seen)
        if "items" in schema:
            walk(schema["items"], f"{where}[]", name, seen)
        if isinstance(schema.get("additionalProperties"), dict):
            walk(schema["additionalProperties"], f"{where}{{}}", name, seen)

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            route = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                where = f"{route} {parameter['in']}.{parameter['name']}"
                walk(parameter["schema"], where, parameter["name"], ())
            for body in operation.get("requestBody", {}).get("content", {}).values():
                walk(body["schema"], f"{route} body", "", ())
    return out


@pytest.fixture
async def migrated(
    schema_factory: Callable[[str], str],
) -> Callable[[str], Any]:
    """Migrates a fresh schema for a service; gives (table, column) -> its largest integer."""

    async def columns(service: str) -> dict[tuple[str, str], int]:
        schema = schema_factory(f"bounds_{service}")
        engine = create_engine(DATABASE_URL, schema, pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await migrate(engine, ROOT / Path(f"services/{service}/migrations"), schema)
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text(
                        "SELECT table_name, column_name, data_type FROM information_schema.columns"
                        " WHERE table_schema = :schema AND data_type = ANY(:types)"
                    ),
                    {"schema": schema, "types": list(LARGEST)},
                )
                return {(t, c): LARGEST[d] for t, c, d in rows}
        finally:
            await engine.dispose()

    return columns


@pytest.mark.parametrize("service", SERVICES)
async def test_every_integer_the_api_accepts_fits_its_column(
    service: str, migrated: Callable[[str], Any]
) -> None:
    in_database: dict[tuple[str, str], int] = await migrated(service)
    in_models = model_columns(service)
    fits: dict[str, int] = {}  # column name -> the largest value every such column takes
    for (table, column), width in in_database.items():
        bound = min(width, in_models.get((table, column), width))
        fits[column] = min(fits.get(column, bound), bound)
    assert {c for (s, _), c in COMPARED_WITH.items() if s == service} <= set(fits)

    too_wide = []
    for where, name, accepted in api_integers(service):
        column = COMPARED_WITH.get((service, name), name)
        limit = fits.get(column, WIDEST)
        # FastAPI writes bounds into the document as floats (2**63 - 1 reads 2**63): a
        # float bound is compared with the column's largest as a float, as exact as it.
        if accepted > (float(limit) if isinstance(accepted, float) else limit):
            shown = "unbounded" if accepted == math.inf else f"{accepted:.0f}"
            too_wide.append(f"{where} accepts up to {shown}; {column!r} holds {limit}")

    assert too_wide == []


@pytest.mark.parametrize("service", SERVICES)
async def test_table_models_bind_integers_as_wide_as_their_columns(
    service: str, migrated: Callable[[str], Any]
) -> None:
    in_database: dict[tuple[str, str], int] = await migrated(service)

    differ = {
        f"{table}.{column}: the model binds up to {largest}, the column holds "
        f"{in_database.get((table, column))}"
        for (table, column), largest in model_columns(service).items()
        if in_database.get((table, column)) != largest
    }

    assert differ == set()
