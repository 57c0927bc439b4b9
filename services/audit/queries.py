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

from shared.db import Sessions

EXPORT_FIELDS = (
    "seq",
    "event_id",
    "accessed_at",
    "recorded_at",
    "organisation_id",
    "organisation_country",
    "actor",
    "subject_id",
    "subject_country",
    "fields",
    "purpose",
    "legal_basis",
    "legal_reference",
    "channel",
    "decision",
    "decision_reason",
    "consent_id",
    "consent_version",
    "grant_id",
    "verdict",
)
_SOURCES = {
    "event_id": "e.event_id::text AS event_id",
    "subject_country": "p.subject_country",  # the erasable personal part
    "verdict": "c.verdict",  # the consent check, once made
}
COLUMNS = ", ".join(_SOURCES.get(name, f"e.{name}") for name in EXPORT_FIELDS)
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


def _where(f: Filters, after: int | None) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for column, value in (
        ("e.subject_id", f.subject),
        ("e.organisation_id", f.organisation),
        ("e.organisation_country", f.country),
        ("e.purpose", f.purpose),
        ("e.legal_basis", f.legal_basis),
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
    if f.violations_only:
        clauses.append("c.verdict = 'violation'")
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
    query = (
        f"SELECT {COLUMNS} FROM entries e "
        "LEFT JOIN entry_personal p ON p.seq = e.seq LEFT JOIN checks c ON c.seq = e.seq"
        f"{where} ORDER BY e.seq LIMIT :limit"
    )
    async with sessions() as session:
        rows = await session.execute(text(query), params)
        return [dict(r._mapping) for r in rows]


async def stream(
    sessions: Sessions, filters: Filters, *, batch: int = 5000
) -> AsyncIterator[dict[str, Any]]:
    """Every matching disclosure, page by page."""
    after: int | None = None
    while True:
        rows = await page(sessions, filters, after=after, limit=batch)
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = rows[-1]["seq"]


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
    rows = await page(sessions, Filters(), after=seq - 1, limit=1)
    return rows[0] if rows and rows[0]["seq"] == seq else None
