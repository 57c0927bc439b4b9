"""Database access for the log as standard tools read it: the newest signed size, ranges
of leaf hashes and tree nodes (tiles), the entries' leaf data (bundles, bulk reads),
and the witnesses' cosignatures. Everything is read by position ranges on primary keys.
"""

from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import repository
from shared.db import Sessions

# The values of the leaf data as the database can spell them: timestamps as
# domain.timestamp writes them (UTC, microseconds, "Z"), the uuid as text, the digest
# in hex (``domain.Entry.leaf``, which the tests compare).
_UTC = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
_LEAF_SOURCES = {
    "event_id": "event_id::text",
    "accessed_at": _UTC.format("accessed_at"),
    "recorded_at": _UTC.format("recorded_at"),
    "personal_digest": "encode(personal_digest, 'hex')",
}
LEAF_KEYS = tuple(sorted(c for c in repository.ENTRY_COLUMNS if c not in ("seq", "leaf_hash")))
"""The keys of an entry's leaf data (the columns of ``entries`` it is made of), sorted."""
# The leaf data spelt whole by PostgreSQL: each value through to_json (strings escaped
# as msgspec and Python's json escape them, control characters as short escapes or
# \u00XX and nothing else; arrays without spaces), the keys in sorted order, no spaces,
# so the bytes are domain.canonical's. A bulk batch comes back as one value, its lines
# joined, so Python handles a batch and not each row: the read then costs about what
# PostgreSQL's own does (a msgspec struct a row, encoded in Python, was 0.7-0.9 of it).
_LEAF_JSON = (
    "'{' || "
    + " || ',' || ".join(
        f"'\"{k}\":' || coalesce(to_json({_LEAF_SOURCES.get(k, k)})::text, 'null')"
        for k in LEAF_KEYS
    )
    + " || '}'"
)
_LEAF_DATA = (
    f"SELECT convert_to({_LEAF_JSON}, 'UTF8') FROM entries "
    "WHERE seq >= $1 AND seq < $2 ORDER BY seq"
)
_LEAF_LINES = (
    f"SELECT count(*), convert_to(string_agg({_LEAF_JSON}, E'\\n' ORDER BY seq) || E'\\n', "
    "'UTF8') FROM entries WHERE seq >= $1 AND seq < $2"
)


async def signed_size(session: AsyncSession) -> int:
    """The size of the newest signed tree head (0 when none was signed)."""
    conn = await repository.raw(session)
    value = await conn.fetchval("SELECT max(tree_size) FROM tree_heads")
    return 0 if value is None else int(value)


async def leaf_hashes(session: AsyncSession, start: int, end: int) -> list[bytes]:
    """The leaf hashes of entries ``start`` to ``end`` (excluded), in order."""
    conn = await repository.raw(session)
    rows = await conn.fetch(
        "SELECT leaf_hash FROM entries WHERE seq >= $1 AND seq < $2 ORDER BY seq", start, end
    )
    return [bytes(r[0]) for r in rows]


async def level_hashes(session: AsyncSession, level: int, start: int, end: int) -> list[bytes]:
    """Stored nodes of a tree level (``repository.LOWEST_STORED_LEVEL`` or above),
    indices ``start`` to ``end`` (excluded), in order."""
    if level < repository.LOWEST_STORED_LEVEL:
        raise ValueError(f"tree level {level} is not stored")
    conn = await repository.raw(session)
    rows = await conn.fetch(
        "SELECT hash FROM tree_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
        level,
        start,
        end,
    )
    return [bytes(r[0]) for r in rows]


async def leaf_data(db: AsyncSession | asyncpg.Connection, start: int, end: int) -> list[bytes]:
    """The exact leaf data of entries ``start`` to ``end`` (excluded), in order: what
    the tree hashed, SHA-256(0x00 || data) being each one's leaf hash."""
    conn = db if isinstance(db, asyncpg.Connection) else await repository.raw(db)
    return [bytes(r[0]) for r in await conn.fetch(_LEAF_DATA, start, end)]


async def leaf_lines(conn: asyncpg.Connection, start: int, end: int) -> tuple[int, bytes]:
    """:func:`leaf_data` as JSON lines, one entry's leaf data a line: how many, and the
    lines, spelt by PostgreSQL in one value."""
    row = await conn.fetchrow(_LEAF_LINES, start, end)
    assert row is not None  # an aggregate always answers one row
    count = int(row[0])
    return count, bytes(row[1]) if count else b""


async def leaf_line_batches(
    sessions: Sessions, start: int, end: int, *, batch: int
) -> AsyncIterator[bytes]:
    """:func:`leaf_lines` a batch at a time on a session of its own, each batch read
    once the last was consumed; stops at ``end`` or at the log's end."""
    async with sessions() as session:
        conn = await repository.raw(session)
        while start < end:
            count, lines = await leaf_lines(conn, start, min(end, start + batch))
            if not count:
                return
            yield lines
            start += count


async def cosignatures(session: AsyncSession, tree_size: int) -> list[str]:
    """The witnesses' cosignature lines stored for a checkpoint of ``tree_size``."""
    conn = await repository.raw(session)
    rows = await conn.fetch(
        "SELECT line FROM checkpoint_cosignatures WHERE tree_size = $1 ORDER BY witness",
        tree_size,
    )
    return [r[0] for r in rows]


async def add_cosignature(
    session: AsyncSession, tree_size: int, witness: str, line: str, timestamp: int
) -> None:
    """Keep a witness's cosignature of the checkpoint of ``tree_size`` (the first kept)."""
    conn = await repository.raw(session)
    await conn.execute(
        "INSERT INTO checkpoint_cosignatures (tree_size, witness, line, cosigned_at) "
        "VALUES ($1, $2, $3, to_timestamp($4)) ON CONFLICT DO NOTHING",
        tree_size,
        witness,
        line,
        float(timestamp),
    )
