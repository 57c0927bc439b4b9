"""The auditors' read side: filtered disclosures, keyset pages, streamed exports.

Pages are keyed on the log position (``seq``), so a page costs the same at the start
of the log as after ten million entries, and an export streams page after page without
holding the result in memory.
"""

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

from services.audit import fields
from shared.db import Sessions

EXPORT_FIELDS = fields.SHOWN
"""What a page or an export shows, in order (``fields.FIELDS``)."""
# The personal part and the check are looked up row by row (scalar subqueries): as
# joins, a prepared statement's generic plan merge-joined them from the start of the
# log, so a page after position n cost O(n) (126 ms at 300,000, measured).
_TABLE = {fields.Kept.PERSONAL: "entry_personal", fields.Kept.CHECK: "checks"}


def _source(field: fields.DisclosureField) -> str:
    if field.kept in _TABLE:
        table = _TABLE[field.kept]
        return f"(SELECT t.{field.name} FROM {table} t WHERE t.seq = e.seq) AS {field.name}"
    if field.kind is fields.Kind.UUID:
        return f"e.{field.name}::text AS {field.name}"
    return f"e.{field.name}"


COLUMNS = ", ".join(_source(f) for f in fields.FIELDS if f.shown)
"""What a page or an export selects: the export's fields, from the tables that hold them."""


@dataclass(frozen=True)
class Filters:
    subject: str | None = None
    organisation: str | None = None
    country: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    violations_only: bool = False
    decision: str | None = None


def _where(f: Filters, after: int | None) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for column, value in (
        ("e.subject_id", f.subject),
        ("e.organisation_id", f.organisation),
        ("e.organisation_country", f.country),
        ("e.purpose", f.purpose),
        ("e.legal_basis", f.legal_basis),
        ("e.decision", f.decision),
    ):
        if value is not None:
            name = column.split(".")[1]
            clauses.append(f"{column} = :{name}")
            params[name] = value
    if f.since is not None:
        clauses.append("e.accessed_at >= :since")
        params["since"] = f.since
    if f.until is not None:
        clauses.append("e.accessed_at < :until")
        params["until"] = f.until
    if after is not None:
        clauses.append("e.seq > :after")
        params["after"] = after
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


async def page(
    sessions: Sessions, filters: Filters, *, after: int | None, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` disclosures matching ``filters`` after log position ``after``."""
    where, params = _where(filters, after)
    params["limit"] = limit
    # violations are found through checks_violations, the few among many
    violations = " JOIN checks v ON v.seq = e.seq AND v.verdict = 'violation'"
    query = (
        f"SELECT {COLUMNS} FROM entries e{violations if filters.violations_only else ''}"
        f"{where} ORDER BY e.seq LIMIT :limit"
    )
    async with sessions() as session:
        rows = await session.execute(text(query), params)
        return [dict(r._mapping) for r in rows]


async def stream(
    sessions: Sessions, filters: Filters, *, batch: int = 5000
) -> AsyncIterator[dict[str, Any]]:
    """Every matching disclosure, page by page. The first page is read before this
    returns: a query that fails does so before an answer has begun, not in its middle."""
    first = await page(sessions, filters, after=None, limit=batch)

    async def rows() -> AsyncIterator[dict[str, Any]]:
        current = first
        while True:
            for row in current:
                yield row
            if len(current) < batch:
                return
            current = await page(sessions, filters, after=current[-1]["seq"], limit=batch)

    return rows()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def jsonl(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for row in rows:
        yield (json.dumps({k: _plain(v) for k, v in row.items()}) + "\n").encode()


async def csv_lines(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_FIELDS)
    async for row in rows:
        values = [_plain(row[name]) for name in EXPORT_FIELDS]
        values[EXPORT_FIELDS.index("fields")] = " ".join(row["fields"])
        writer.writerow(values)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def subjects_accessed(
    sessions: Sessions,
    organisation: str,
    since: datetime,
    until: datetime,
    *,
    categories: Sequence[str] | None = None,
    after: str | None = None,
    limit: int = 1000,
) -> list[str]:
    """Which subjects an organisation received data of in a window (for breach response):
    a page of ``limit`` subject ids in order, after ``after``; only allowed disclosures
    count, and with ``categories`` only those whose fields overlap them."""
    # Byte order (COLLATE "C"), whatever the database's collation: pages follow the
    # index entries_allowed_subjects, and callers sort the ids the same way.
    clauses = [
        "organisation_id = :o",
        "decision = 'allow'",
        "accessed_at >= :s",
        "accessed_at < :u",
    ]
    params: dict[str, Any] = {"o": organisation, "s": since, "u": until, "limit": limit}
    if categories is not None:
        clauses.append("fields && CAST(:categories AS text[])")
        params["categories"] = list(categories)
    if after is not None:
        clauses.append('subject_id COLLATE "C" > :after')
        params["after"] = after
    query = (
        'SELECT DISTINCT subject_id COLLATE "C" AS subject_id FROM entries WHERE '
        + " AND ".join(clauses)
        + " ORDER BY 1 LIMIT :limit"
    )
    async with sessions() as session:
        rows = await session.execute(text(query), params)
        return [r[0] for r in rows]


async def entry(sessions: Sessions, seq: int) -> dict[str, Any] | None:
    """The entry at ``seq`` as a page shows it, with what its leaf is made of (the
    columns of ``entries``), or None; one lookup by position in each table."""
    hidden = [f.name for f in fields.ENTRY_FIELDS if not f.shown]
    leaf_columns = ", ".join(f"e.{c}" for c in (*hidden, "leaf_hash"))
    async with sessions() as session:
        rows = await session.execute(
            text(f"SELECT {COLUMNS}, {leaf_columns} FROM entries e WHERE e.seq = :seq"),
            {"seq": seq},
        )
        row = rows.first()
    return None if row is None else dict(row._mapping)
