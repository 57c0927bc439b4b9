"""Use cases of the audit service's read side: disclosures, exports, subjects, entries,
and erasure. The log's other jobs have modules of their own: ``ingestion`` (read,
merge, write), ``signing`` (tree heads), ``proofs``, ``checks`` (the consent check).
"""

import base64
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from services.audit import queries, repository
from services.audit.exceptions import NotFound
from services.audit.models import Disclosure, DisclosurePage, EntryOut
from services.audit.queries import Filters
from shared.db import Sessions, transaction
from shared.events import UserErased

__all__ = ["Filters", "disclosures", "entry", "erase", "export", "subjects_accessed"]


async def disclosures(
    sessions: Sessions, filters: Filters, *, after: int | None, limit: int
) -> DisclosurePage:
    """A page of disclosures matching ``filters``: a full page points at the next one."""
    rows = await queries.page(sessions, filters, after=after, limit=limit)
    return DisclosurePage(
        items=[Disclosure(**row) for row in rows],
        next_cursor=rows[-1]["seq"] if len(rows) == limit else None,
    )


async def export(sessions: Sessions, filters: Filters, format: str) -> AsyncIterator[bytes]:
    """Every matching disclosure as CSV or JSON lines; the first query runs before this
    returns, so a failure is an error answer, not an answer cut short."""
    if format == "jsonl":
        return await queries.export_lines(sessions, filters)
    return queries.csv_lines(await queries.stream(sessions, filters))


async def subjects_accessed(
    sessions: Sessions,
    organisation: str,
    since: datetime,
    until: datetime,
    *,
    categories: Sequence[str] | None,
    after: str | None,
    limit: int,
) -> list[str]:
    """A page of the subjects an organisation received data of in a window."""
    return await queries.subjects_accessed(
        sessions, organisation, since, until, categories=categories, after=after, limit=limit
    )


async def entry(sessions: Sessions, seq: int, *, organisation: str | None = None) -> EntryOut:
    """The entry at ``seq`` with its leaf data; with ``organisation``, only if it is that
    organisation's (else it is not found, as if it did not exist)."""
    row = await queries.entry(sessions, seq)
    if row is None or (organisation is not None and row["organisation_id"] != organisation):
        raise NotFound(f"no entry {seq}", field="seq")
    leaf = repository.to_entry(row).leaf()
    shown = {name: row[name] for name in queries.EXPORT_FIELDS}
    return EntryOut(**shown, leaf_data=base64.b64encode(leaf).decode())


async def erase(sessions: Sessions, event: UserErased) -> int:
    """Drop the personal part of the subject's entries; the entries and proofs stay."""
    async with transaction(sessions) as session:
        return await repository.erase_subject(session, event.payload.user_id, datetime.now(UTC))
