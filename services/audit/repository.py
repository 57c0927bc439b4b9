"""Database access of the audit service. The log's appends use binary COPY on a raw
asyncpg connection; the other reads and writes go through SQLAlchemy Core."""

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, cast

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import merkle, pgcopy
from services.audit.domain import ConsentChange, Entry

ENTRY_COLUMNS = ("seq", *Entry.__struct_fields__, "leaf_hash")
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


async def consent_changes(session: AsyncSession, consent_ids: Iterable[str]) -> list[ConsentChange]:
    rows = await session.execute(
        text(
            "SELECT consent_id, version, action, user_id, purpose, organisation, country, at, "
            "valid_until FROM consent_changes WHERE consent_id = ANY(:ids)"
        ),
        {"ids": list(set(consent_ids))},
    )
    return [ConsentChange(*row) for row in rows]


async def checked_up_to(session: AsyncSession) -> int:
    """The next entry to check (checks go in log order)."""
    last = (await session.execute(text("SELECT max(seq) FROM checks"))).scalar()
    return 0 if last is None else int(last) + 1


async def entries_from(
    session: AsyncSession, first: int, *, recorded_before: datetime, limit: int
) -> list[tuple[int, Entry, bytes]]:
    """Entries from position ``first`` on, in order, each with its stored leaf hash."""
    rows = await session.execute(
        text(
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries WHERE seq >= :first "
            "AND recorded_at < :before ORDER BY seq LIMIT :limit"
        ),
        {"first": first, "before": recorded_before, "limit": limit},
    )
    return [(int(r.seq), to_entry(r._mapping), bytes(r.leaf_hash)) for r in rows]


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


async def add_checks(session: AsyncSession, rows: Sequence[tuple[int, str, str, datetime]]) -> None:
    if rows:
        conn = await raw(session)
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
