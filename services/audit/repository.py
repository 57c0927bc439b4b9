"""Database access of the audit service. The log's appends use binary COPY on a raw
asyncpg connection; the other reads and writes go through SQLAlchemy Core."""

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NamedTuple, cast

import asyncpg
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import fields, merkle, pgcopy
from services.audit.domain import ConsentChange, Entry
from shared.events import Envelope
from shared.outbox import OutboxMessage
from shared.telemetry import current_trace_headers

ENTRY_COLUMNS = ("seq", *(f.name for f in fields.ENTRY_FIELDS), "leaf_hash")
"""The columns of ``entries``: the position, every field of the entry, its leaf hash."""
PERSONAL_COLUMNS = ("seq", "salt", "subject_country")
NODE_COLUMNS = ("level", "idx", "hash")
LOWEST_STORED_LEVEL = 4
"""Tree nodes are stored from this level up; a lower one is hashed from its 2 to 8 leaf
hashes when asked for. Storing every level cost a row per entry, 3.8 µs of the
database's time each (measured)."""
APPEND_LOCK = 7_110_001
"""Advisory lock key: one appender at a time, across replicas."""


async def raw(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session, inside its transaction (for COPY)."""
    connection = await session.connection()
    fairy = await connection.get_raw_connection()
    return cast(asyncpg.Connection, fairy.driver_connection)


# The append path runs on a connection of its own, in as few round trips as it can:
# the event loop that waits for each answer is also reading the next batches.


@asynccontextmanager
async def appending(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """One transaction holding the append lock; begun and locked in one round trip."""
    await conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK})")
    try:
        yield
    except BaseException:
        if not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


async def size(db: AsyncSession | asyncpg.Connection) -> int:
    """How many entries the log holds (entries are numbered from 0 without gaps)."""
    conn = db if isinstance(db, asyncpg.Connection) else await raw(db)
    last = await conn.fetchval("SELECT max(seq) FROM entries")
    return 0 if last is None else int(last) + 1


async def known_event_ids(conn: asyncpg.Connection, event_ids: Sequence[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT event_id::text FROM entries WHERE event_id = ANY($1::uuid[])", event_ids
    )
    return {r[0] for r in rows}


async def append(
    conn: asyncpg.Connection,
    first: int,
    rows: Sequence[bytes],
    personal: Sequence[bytes],
    nodes: bytes,
) -> None:
    """Write entries and their personal parts (``pgcopy`` rows, numbered from ``first``)
    and the completed tree nodes (a ``pgcopy.node_data`` stream), with COPY."""
    # memoryviews, because asyncpg takes bytes for a file's path; it sends a buffer as it
    # is, which its type stubs do not say (hence the ignores)
    await conn.copy_to_table(
        "entries",
        source=memoryview(pgcopy.copy_data(first, rows, len(ENTRY_COLUMNS))),  # type: ignore[arg-type]
        columns=ENTRY_COLUMNS,
        format="binary",
    )
    await conn.copy_to_table(
        "entry_personal",
        source=memoryview(pgcopy.copy_data(first, personal, len(PERSONAL_COLUMNS))),  # type: ignore[arg-type]
        columns=PERSONAL_COLUMNS,
        format="binary",
    )
    if len(nodes) > len(pgcopy.HEADER) + len(pgcopy.TRAILER):
        await conn.copy_to_table(
            "tree_nodes",
            source=memoryview(nodes),  # type: ignore[arg-type]
            columns=NODE_COLUMNS,
            format="binary",
        )


async def hashes(
    db: AsyncSession | asyncpg.Connection, keys: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Hashes of perfect subtrees: level 0 are the entries' leaf hashes, levels from
    ``LOWEST_STORED_LEVEL`` up are stored, the ones between are hashed from their leaves.
    A key whose subtree is not complete in the log is left out."""
    conn = db if isinstance(db, asyncpg.Connection) else await raw(db)
    keys = set(keys)
    hashed = [(level, i) for level, i in keys if 0 < level < LOWEST_STORED_LEVEL]
    stored = [(level, i) for level, i in keys if level >= LOWEST_STORED_LEVEL]
    leaves = {i for level, i in keys if level == 0}
    for level, i in hashed:
        leaves.update(range(i << level, (i + 1) << level))
    found: dict[tuple[int, int], bytes] = {}
    if leaves:
        rows = await conn.fetch(
            "SELECT seq, leaf_hash FROM entries WHERE seq = ANY($1::bigint[])", sorted(leaves)
        )
        found.update({(0, int(seq)): bytes(h) for seq, h in rows})
    for level, i in hashed:
        span = [found[0, seq] for seq in range(i << level, (i + 1) << level) if (0, seq) in found]
        if len(span) == 1 << level:
            found[level, i] = merkle.perfect_hash(span)
    if stored:
        rows = await conn.fetch(
            "SELECT level, idx, hash FROM tree_nodes WHERE (level, idx) IN "
            "(SELECT * FROM unnest($1::smallint[], $2::bigint[]))",
            [k[0] for k in stored],
            [k[1] for k in stored],
        )
        found.update({(int(lv), int(ix)): bytes(h) for lv, ix, h in rows})
    return {key: value for key, value in found.items() if key in keys}


async def add_tree_head(
    session: AsyncSession,
    tree_size: int,
    root: bytes,
    signed_at: datetime,
    signature: bytes,
    key_id: str,
) -> None:
    await session.execute(
        text(
            "INSERT INTO tree_heads (tree_size, root_hash, signed_at, signature, key_id) "
            "VALUES (:n, :r, :t, :s, :k) ON CONFLICT (tree_size) DO NOTHING"
        ),
        {"n": tree_size, "r": root, "t": signed_at, "s": signature, "k": key_id},
    )


async def tree_heads(session: AsyncSession, *, limit: int, before: int | None) -> list[Any]:
    query = "SELECT tree_size, root_hash, signed_at, signature, key_id FROM tree_heads"
    params: dict[str, Any] = {"limit": limit}
    if before is not None:
        query += " WHERE tree_size < :before"
        params["before"] = before
    rows = await session.execute(text(query + " ORDER BY tree_size DESC LIMIT :limit"), params)
    return list(rows)


async def tree_head(session: AsyncSession, tree_size: int) -> Any:
    rows = await session.execute(
        text(
            "SELECT tree_size, root_hash, signed_at, signature, key_id FROM tree_heads "
            "WHERE tree_size = :n"
        ),
        {"n": tree_size},
    )
    return rows.first()


async def add_consent_changes(session: AsyncSession, changes: Sequence[ConsentChange]) -> None:
    await session.execute(
        text(
            "INSERT INTO consent_changes (consent_id, version, action, user_id, purpose, "
            "organisation, country, at, valid_until) VALUES (:consent_id, :version, :action, "
            ":user_id, :purpose, :organisation, :country, :at, :valid_until) "
            "ON CONFLICT DO NOTHING"
        ),
        [c.__dict__ for c in changes],
    )


# The consent check reads and writes through the session's asyncpg connection, in the
# session's transaction: through SQLAlchemy's rows, reading an entry cost more than
# judging it (measured: 13.9 us an entry a round, against 3.2 us this way).


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


_ENTRY_SELECT = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries"


async def put_off_pending(
    conn: asyncpg.Connection,
    first: int,
    *,
    recorded_before: datetime,
    waits_after: datetime,
    at: datetime,
    limit: int,
) -> tuple[int, int]:
    """Of the first ``limit`` settled entries from position ``first`` on (recorded before
    ``recorded_before``), put off the checks of those that wait for their consent's
    history (``domain.awaits_history``, recorded after ``waits_after``), in the
    database, without reading them out; return how many entries were looked at and the
    last one's position (-1 if none).

    When consent events run late, nearly every entry waits: reading each one out to put
    it off cost more than the rest of ingestion together (measured, 9 us an entry).
    ``domain.awaits_history`` stays the rule: the caller judges what is left with it,
    and a test keeps the two in step.
    """
    row = await conn.fetchrow(
        "WITH pending AS (SELECT seq, decision, legal_basis, consent_id, recorded_at "
        " FROM entries WHERE seq >= $1 AND recorded_at < $2 ORDER BY seq LIMIT $3),"
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
    return [(int(r["seq"]), to_entry(r), bytes(r["leaf_hash"])) for r in rows]


async def entries_at(
    conn: asyncpg.Connection, seqs: Sequence[int]
) -> list[tuple[int, Entry, bytes]]:
    """The entries at positions ``seqs``, in order, each with its stored leaf hash."""
    rows = await conn.fetch(
        f"{_ENTRY_SELECT} WHERE seq = ANY($1::bigint[]) ORDER BY seq", list(seqs)
    )
    return [(int(r["seq"]), to_entry(r), bytes(r["leaf_hash"])) for r in rows]


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


class Stored(NamedTuple):
    """An entry as stored, with its personal part (None for both once erased or lost)."""

    seq: int
    entry: Entry
    leaf_hash: bytes
    salt: bytes | None
    subject_country: str | None
    has_personal: bool


async def stored_range(session: AsyncSession, first: int, end: int) -> list[Stored]:
    """Entries at positions ``first`` to ``end`` (excluded), in order, with their
    personal parts: everything a leaf or a digest was made from, as it is stored now."""
    columns = ", ".join(f"e.{c}" for c in ENTRY_COLUMNS)
    rows = await session.execute(
        text(
            f"SELECT {columns}, p.salt, p.subject_country, p.seq IS NOT NULL AS has_personal "
            "FROM entries e LEFT JOIN entry_personal p ON p.seq = e.seq "
            # both ranges spelled out, so neither side is scanned from the log's start
            "AND p.seq >= :first AND p.seq < :end "
            "WHERE e.seq >= :first AND e.seq < :end ORDER BY e.seq"
        ),
        {"first": first, "end": end},
    )
    return [
        Stored(
            seq=int(r.seq),
            entry=to_entry(r._mapping),
            leaf_hash=bytes(r.leaf_hash),
            salt=None if r.salt is None else bytes(r.salt),
            subject_country=r.subject_country,
            has_personal=bool(r.has_personal),
        )
        for r in rows
    ]


async def erased(session: AsyncSession, user_ids: Iterable[str]) -> set[str]:
    """Which of ``user_ids`` were erased (their entries' personal parts deleted)."""
    rows = await session.execute(
        text("SELECT user_id FROM erasures WHERE user_id = ANY(:ids)"), {"ids": list(set(user_ids))}
    )
    return {r[0] for r in rows}


def to_entry(row: Any) -> Entry:
    return Entry(
        event_id=str(row["event_id"]),
        producer=row["producer"],
        accessed_at=row["accessed_at"],
        recorded_at=row["recorded_at"],
        organisation_id=row["organisation_id"],
        organisation_country=row["organisation_country"],
        actor=row["actor"],
        subject_id=row["subject_id"],
        fields=tuple(row["fields"]),
        purpose=row["purpose"],
        legal_basis=row["legal_basis"],
        legal_reference=row["legal_reference"],
        channel=row["channel"],
        decision=row["decision"],
        decision_reason=row["decision_reason"],
        consent_id=row["consent_id"],
        consent_version=row["consent_version"],
        grant_id=row["grant_id"],
        personal_digest=bytes(row["personal_digest"]),
    )


async def stage_events(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Add events to the outbox in the session's transaction, in one statement:
    ``shared.outbox.stage`` builds an ORM object a row, which cost two thirds of the
    consent check's time when a history of violations was checked (measured)."""
    if events:
        headers = current_trace_headers()
        await session.execute(
            insert(OutboxMessage.__table__),  # type: ignore[attr-defined]
            [
                {
                    "event_id": e.event_id,
                    "topic": e.topic(),
                    "key": e.subject_id,
                    "value": e.model_dump_json(),
                    "headers": headers,
                }
                for e in events
            ],
        )


async def add_checks(
    conn: asyncpg.Connection, rows: Sequence[tuple[int, str, str, datetime]]
) -> None:
    """Record verdicts, with COPY."""
    if rows:
        await conn.copy_records_to_table(
            "checks", records=rows, columns=("seq", "verdict", "reason", "checked_at")
        )


async def erase_subject(session: AsyncSession, user_id: str, at: datetime) -> int:
    """Delete the personal parts of the subject's entries; the entries and proofs stay."""
    deleted = await session.execute(
        text(
            "DELETE FROM entry_personal WHERE seq IN "
            "(SELECT seq FROM entries WHERE subject_id = :u)"
        ),
        {"u": user_id},
    )
    await session.execute(
        text("INSERT INTO erasures (user_id, erased_at) VALUES (:u, :t) ON CONFLICT DO NOTHING"),
        {"u": user_id, "t": at},
    )
    return int(deleted.rowcount or 0)  # type: ignore[attr-defined]
