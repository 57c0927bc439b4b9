"""Database access of the audit service. The log's appends use binary COPY on a raw
asyncpg connection; the other reads and writes go through SQLAlchemy Core."""

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NamedTuple, cast

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import fields, merkle, pgcopy
from services.audit.domain import Entry

ENTRY_COLUMNS = ("seq", *(f.name for f in fields.ENTRY_FIELDS), "leaf_hash")
"""The columns of ``entries``: the position, every field of the entry, its leaf hash."""
PERSONAL_COLUMNS = ("seq", "salt", "subject_country")
NODE_COLUMNS = ("level", "idx", "hash")
LOWEST_STORED_LEVEL = 4
"""Tree nodes are stored from this level up; a lower one is hashed from its 2 to 8 leaf
hashes when asked for. Storing every level cost a row per entry, 3.8 µs of the
database's time each (measured)."""
APPEND_LOCK = "hashtext(current_schema() || '.entries')"
"""Advisory lock key: one appender at a time, across a log's replicas. The log's schema
is part of it: one key for the whole database made every audit log in it (each test's,
each benchmark's) wait for the others' appends."""


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
