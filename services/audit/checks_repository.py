"""Database access of the consent check after the fact: the entries it judges, the
consent history, the checks it makes and the ones it puts off.

It reads and writes through the session's asyncpg connection, in the session's
transaction: through SQLAlchemy's rows, reading an entry out cost more than judging it
(measured: 13.9 us an entry a round; putting off a waiting entry now costs 1-3 us, in
the database).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import repository
from services.audit.domain import ConsentChange, Entry


async def connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under ``session``, inside the session's transaction."""
    # SQLAlchemy's asyncpg adapter sends BEGIN with its first statement, not before: a
    # statement sent on the bare connection before that would run, and commit, alone.
    await session.execute(text("SELECT 1"))
    return await repository.raw(session)


async def add_consent_changes(session: AsyncSession, changes: Sequence[ConsentChange]) -> None:
    """Add to the consent history; a change already there is left as it is."""
    await session.execute(
        text(
            "INSERT INTO consent_changes (consent_id, version, action, user_id, purpose, "
            "organisation, country, at, valid_until) VALUES (:consent_id, :version, :action, "
            ":user_id, :purpose, :organisation, :country, :at, :valid_until) "
            "ON CONFLICT DO NOTHING"
        ),
        [c.__dict__ for c in changes],
    )


async def consent_changes(
    conn: asyncpg.Connection, consent_ids: Iterable[str]
) -> list[ConsentChange]:
    """The history of each of ``consent_ids``."""
    rows = await conn.fetch(
        "SELECT consent_id, version, action, user_id, purpose, organisation, country, at, "
        "valid_until FROM consent_changes WHERE consent_id = ANY($1::text[])",
        list(set(consent_ids)),
    )
    return [ConsentChange(*row) for row in rows]


async def checked_up_to(conn: asyncpg.Connection) -> int:
    """The next entry to check: checks go in log order, but for the ones put off."""
    last = await conn.fetchval(
        "SELECT greatest((SELECT max(seq) FROM checks), (SELECT max(seq) FROM checks_deferred))"
    )
    return 0 if last is None else int(last) + 1


_ENTRY_SELECT = f"SELECT {', '.join(repository.ENTRY_COLUMNS)} FROM entries"


async def put_off_pending(
    conn: asyncpg.Connection,
    first: int,
    *,
    recorded_before: datetime,
    waits_after: datetime,
    at: datetime,
    limit: int,
) -> tuple[int, int]:
    """Of the entries from position ``first`` on, up to ``limit`` of them and up to the
    first not settled (recorded at or after ``recorded_before``), put off the checks of
    those that wait for their consent's history (``domain.awaits_history``, recorded
    after ``waits_after``), in the database, without reading them out; return how many
    entries were looked at and the last one's position (-1 if none).

    When consent events run late, nearly every entry waits: reading each one out to put
    it off cost more than the rest of ingestion together (measured, 9 us an entry).
    ``domain.awaits_history`` stays the rule: the caller judges what is left with it,
    and a test keeps the two in step.
    """
    row = await conn.fetchrow(
        # The round stops before the first entry not settled yet: the check's frontier
        # moves past what it looked at (checked_up_to), so a settled entry behind an
        # unsettled one (another replica's, read earlier and written later) would leave
        # that one unchecked for good. Positions have no gaps: both scans read at most
        # ``limit`` rows of the primary key, never the unsettled tail.
        "WITH bound AS (SELECT coalesce(min(seq), $1::bigint + $3::bigint) AS b FROM entries"
        "  WHERE seq >= $1 AND seq < $1::bigint + $3::bigint AND recorded_at >= $2),"
        " pending AS (SELECT seq, decision, legal_basis, consent_id, recorded_at "
        " FROM entries, bound WHERE seq >= $1 AND seq < bound.b),"
        " put_off AS (INSERT INTO checks_deferred (seq, consent_id, recorded_at, deferred_at)"
        "  SELECT seq, consent_id, recorded_at, $5 FROM pending p"
        "  WHERE p.decision = 'allow' AND p.legal_basis = 'consent' AND p.consent_id <> ''"
        "  AND p.recorded_at > $4"
        "  AND NOT EXISTS (SELECT 1 FROM consent_changes c WHERE c.consent_id = p.consent_id))"
        # PostgreSQL runs a data-modifying WITH to completion, read or not
        " SELECT count(*) AS looked_at, coalesce(max(seq), -1) AS last FROM pending",
        first,
        recorded_before,
        limit,
        waits_after,
        at,
    )
    assert row is not None
    return int(row["looked_at"]), int(row["last"])


async def entries_to_judge(
    conn: asyncpg.Connection, first: int, last: int, *, recorded_before: datetime
) -> list[tuple[int, Entry, bytes]]:
    """The settled entries from ``first`` to ``last`` whose check was not put off, in
    order, each with its stored leaf hash."""
    rows = await conn.fetch(
        f"{_ENTRY_SELECT} e WHERE seq >= $1 AND seq <= $2 AND recorded_at < $3 "
        "AND NOT EXISTS (SELECT 1 FROM checks_deferred d WHERE d.seq = e.seq) ORDER BY seq",
        first,
        last,
        recorded_before,
    )
    return [(int(r["seq"]), repository.to_entry(r), bytes(r["leaf_hash"])) for r in rows]


async def entries_at(
    conn: asyncpg.Connection, seqs: Sequence[int]
) -> list[tuple[int, Entry, bytes]]:
    """The entries at positions ``seqs``, in order, each with its stored leaf hash."""
    rows = await conn.fetch(
        f"{_ENTRY_SELECT} WHERE seq = ANY($1::bigint[]) ORDER BY seq", list(seqs)
    )
    return [(int(r["seq"]), repository.to_entry(r), bytes(r["leaf_hash"])) for r in rows]


class Deferral(NamedTuple):
    """A check put off: the entry's position, the consent it waits for, when it was recorded."""

    seq: int
    consent_id: str
    recorded_at: datetime


async def defer_checks(
    conn: asyncpg.Connection, deferrals: Sequence[Deferral], at: datetime
) -> None:
    """Put off the checks of ``deferrals`` (one statement, however many)."""
    if deferrals:
        await conn.execute(
            "INSERT INTO checks_deferred (seq, consent_id, recorded_at, deferred_at) "
            "SELECT s, c, r, $4 FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) "
            "AS d(s, c, r)",
            [d.seq for d in deferrals],
            [d.consent_id for d in deferrals],
            [d.recorded_at for d in deferrals],
            at,
        )


async def serialise_deferrals(conn: asyncpg.Connection) -> None:
    """Hold, until the transaction ends, the lock that the consent check's rounds and the
    recording of consents take in turn: a consent recorded while checks naming it are
    being put off would otherwise not mark them heard, and they would wait for nothing;
    two replicas' rounds would judge the same entries and one of them fail."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.checks_deferred'))"
    )


async def hear_consents(conn: asyncpg.Connection, consent_ids: Sequence[str]) -> None:
    """Mark the put-off checks that wait for ``consent_ids`` as decidable now."""
    await conn.execute(
        "UPDATE checks_deferred SET heard = true WHERE consent_id = ANY($1::text[]) AND NOT heard",
        list(consent_ids),
    )


async def decidable(
    conn: asyncpg.Connection, *, recorded_before: datetime, skip: Sequence[int], limit: int
) -> list[int]:
    """Up to ``limit`` positions of put-off checks that can be made now, but ``skip``:
    their consent has been heard of, or they were recorded before ``recorded_before``
    and have waited long enough. Each part is read through its own index."""
    rows = await conn.fetch(
        "(SELECT seq FROM checks_deferred WHERE recorded_at < $1 AND seq <> ALL($2::bigint[]) "
        "ORDER BY recorded_at LIMIT $3) UNION "
        "(SELECT seq FROM checks_deferred WHERE heard AND seq <> ALL($2::bigint[]) "
        "ORDER BY seq LIMIT $3)",
        recorded_before,
        list(skip),
        limit,
    )
    return sorted(int(r["seq"]) for r in rows)[:limit]


async def undefer_checks(conn: asyncpg.Connection, seqs: Sequence[int]) -> None:
    """The checks of the entries at ``seqs`` were made."""
    if seqs:
        await conn.execute("DELETE FROM checks_deferred WHERE seq = ANY($1::bigint[])", list(seqs))


async def add_checks(
    conn: asyncpg.Connection, rows: Sequence[tuple[int, str, str, datetime]]
) -> None:
    """Record verdicts, with COPY."""
    if rows:
        await conn.copy_records_to_table(
            "checks", records=rows, columns=("seq", "verdict", "reason", "checked_at")
        )
