"""Values at the edges of what the services store, mixed into what schemathesis generates.

Left to itself the fuzzer seldom sends the inputs that turn into 500s here: an integer
just beyond a PostgreSQL bigint, or a valid RFC 3339 time that leaves the calendar once
turned to UTC (``0001-01-01T00:00:00+01:00``). These strategies send them often.
"""

from typing import Any

import hypothesis.strategies as st
import schemathesis
from schemathesis.specs.openapi.formats import get_default_format_strategies

BIGINT_MAX = 2**63 - 1
EDGE_INTEGERS = (BIGINT_MAX, BIGINT_MAX + 1, -(BIGINT_MAX + 2), 2**64, 0, -1)
"""The largest bigint (which must work), one beyond each end, and beyond 64 bits."""

EDGE_INSTANTS = (
    "0001-01-01T00:00:00+01:00",  # year 0 once in UTC
    "9999-12-31T23:59:59-01:00",  # year 10000 once in UTC
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2026-11-20T10:00:00",  # no offset: not RFC 3339, must be a 422, not a 500
)


def register_edge_instants() -> None:
    """Make every ``date-time`` the fuzzer writes an edge instant half of the time."""
    default = get_default_format_strategies()["date-time"]
    schemathesis.openapi.format("date-time", st.one_of(st.sampled_from(EDGE_INSTANTS), default))


def _kind(doc: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """``integer`` or ``date-time`` when the schema (or one of its options) is one."""
    schema = _resolve(doc, schema)
    if schema.get("type") == "integer":
        return "integer"
    if schema.get("type") == "string" and schema.get("format") == "date-time":
        return "date-time"
    for option in schema.get("anyOf", []):
        kind = _kind(doc, option)
        if kind is not None:
            return kind
    return None


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    target: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    resolved: dict[str, Any] = target
    return resolved


Fields = dict[str, str]
"""Field name -> ``integer`` or ``date-time``."""


def edge_fields(doc: dict[str, Any]) -> dict[tuple[str, str, str], Fields]:
    """The integer and date-time parameters and top-level body fields of each operation of
    ``doc``, by (method, path, where): where is ``path_parameters``, ``query`` or ``body``."""
    found: dict[tuple[str, str, str], Fields] = {}
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                kind = _kind(doc, parameter.get("schema", {}))
                if kind is not None:
                    where = "path_parameters" if parameter["in"] == "path" else parameter["in"]
                    found.setdefault((method.upper(), path, where), {})[parameter["name"]] = kind
            content = operation.get("requestBody", {}).get("content", {})
            body = _resolve(doc, content.get("application/json", {}).get("schema", {}))
            for name, schema in body.get("properties", {}).items():
                kind = _kind(doc, schema)
                if kind is not None:
                    found.setdefault((method.upper(), path, "body"), {})[name] = kind
    return found


EDGES = {"integer": EDGE_INTEGERS, "date-time": EDGE_INSTANTS}


def with_edges(values: Any, fields: Fields) -> st.SearchStrategy[Any]:
    """``values`` as generated, or with some of its integer and date-time fields set to
    edge values."""
    if not isinstance(values, dict) or not fields:
        return st.just(values)
    edged = st.fixed_dictionaries(
        {}, optional={name: st.sampled_from(EDGES[kind]) for name, kind in sorted(fields.items())}
    )
    return st.one_of(st.just(values), edged.map(lambda edge: {**values, **edge}))
