"""Ingestion's stages as use cases: read records into leaves and COPY rows, merge read
batches, and write them to the log, numbered and hashed into the tree.

The log's right edge (:class:`merkle.Frontier`) lives in memory and is rebuilt from the
stored nodes at start-up or whenever another replica appended meanwhile. Appends are
serialised by an advisory lock, so entries are numbered without gaps.
"""

import asyncio
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import merkle, pgcopy, records, repository
from services.audit.domain import Entry, personal_digest, timestamp
from services.audit.records import Access, utc
from shared.db import Sessions
from shared.logging import get_logger

try:
    import audit_native
except ImportError:  # not built (see the README): the log reads in Python, slower
    audit_native = None  # type: ignore[assignment]

log = get_logger(__name__)


@dataclass
class AuditLog:
    """The process's view of the log: its committed size and root, and the right edge."""

    frontier: merkle.Frontier = field(default_factory=merkle.Frontier)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def size(self) -> int:
        return self.frontier.size

    def root(self) -> bytes:
        return self.frontier.root()


async def load(session_factory: Sessions, audit_log: AuditLog) -> None:
    """Rebuild the right edge of the tree from the stored nodes."""
    async with session_factory() as session:
        await _reload(session, audit_log)


async def _reload(db: AsyncSession | asyncpg.Connection, audit_log: AuditLog) -> None:
    size = await repository.size(db)
    keys = merkle.Frontier.keys(size)
    stored = await repository.hashes(db, keys)
    audit_log.frontier = merkle.Frontier(size, {level: stored[(level, i)] for level, i in keys})


def to_entry(event: Access, recorded_at: datetime, salt: bytes) -> Entry:
    p = event.payload
    return Entry(
        event_id=event.event_id,
        producer=event.producer,
        accessed_at=utc(p.accessed_at),
        recorded_at=recorded_at,
        organisation_id=p.organisation_id,
        organisation_country=p.organisation_country,
        actor=p.actor,
        subject_id=p.subject_id,
        fields=tuple(sorted(p.fields)),
        purpose=p.purpose,
        legal_basis=p.legal_basis.value,
        legal_reference=p.legal_reference,
        channel=p.channel,
        decision=p.decision.value,
        decision_reason=p.decision_reason,
        consent_id=p.consent_id,
        consent_version=p.consent_version,
        grant_id=p.grant_id,
        personal_digest=personal_digest(salt, p.subject_country),
    )


class Prepared(msgspec.Struct, gc=False):
    """A batch read for the log, ready to be numbered and written: each entry's event id,
    leaf hash, and rows of ``entries`` and ``entry_personal`` (``pgcopy`` rows, which
    the append numbers)."""

    event_ids: list[str]
    leaves: list[bytes]
    rows: list[bytes]
    personal: list[bytes]


class Read(msgspec.Struct, gc=False):
    """A batch of records, read: what is ready for the log, and what was refused and why
    (by the record's index in the batch)."""

    ready: Prepared
    refused: list[tuple[int, str]]


def prepare_one(event: Access, now: datetime, recorded: str, salt: bytes) -> Prepared:
    """One decoded record for the log, in Python (the reference for ``audit_native``)."""
    entry = to_entry(event, now, salt)
    leaf = merkle.leaf_hash(entry.leaf(recorded))
    return Prepared(
        event_ids=[entry.event_id],
        leaves=[leaf],
        rows=[pgcopy.entry_row(entry, leaf)],
        personal=[pgcopy.personal_row(salt, event.payload.subject_country)],
    )


def read(values: Sequence[bytes], *, native: bool = True) -> Read:
    """Decode a batch of ``data.accessed`` records and prepare the valid ones, each event
    once. ``audit_native`` reads what it can (with ``native``, when it is installed);
    what it leaves, and everything without it, is read in Python."""
    now = datetime.now(UTC)
    salts = os.urandom(16 * len(values))
    left: Collection[int] = range(len(values))
    fast = Prepared(event_ids=[], leaves=[], rows=[], personal=[])
    if native and audit_native is not None:
        fallback, ids, leaves, rows, personal = audit_native.prepare(
            values, (now - _UNIX_EPOCH) // _MICROSECOND, salts
        )
        fast = Prepared(event_ids=ids, leaves=leaves, rows=rows, personal=personal)
        if not fallback and len(set(fast.event_ids)) == len(fast.event_ids):
            return Read(ready=fast, refused=[])
        left = set(fallback)
    recorded = timestamp(now)
    parts: list[Prepared] = []
    refused: list[tuple[int, str]] = []
    taken = 0
    for index, value in enumerate(values):
        if index not in left:
            parts.append(_row(fast, taken))
            taken += 1
            continue
        try:
            event = records.decode(value or b"")
        except records.InvalidRecord as exc:
            refused.append((index, str(exc)))
            continue
        parts.append(prepare_one(event, now, recorded, salts[16 * index : 16 * index + 16]))
    return Read(ready=merge(parts) if parts else fast, refused=refused)


def _row(prepared: Prepared, i: int) -> Prepared:
    return Prepared(
        event_ids=prepared.event_ids[i : i + 1],
        leaves=prepared.leaves[i : i + 1],
        rows=prepared.rows[i : i + 1],
        personal=prepared.personal[i : i + 1],
    )


def merge(parts: Sequence[Prepared], skip: Collection[str] = ()) -> Prepared:
    """Prepared batches as one, in order, without the events in ``skip``; an event in
    several of them is kept once."""
    if len(parts) == 1 and not skip and len(set(parts[0].event_ids)) == len(parts[0].event_ids):
        return parts[0]
    merged = Prepared(event_ids=[], leaves=[], rows=[], personal=[])
    seen = set(skip)
    for part in parts:
        for event_id, leaf, row, personal in zip(
            part.event_ids, part.leaves, part.rows, part.personal, strict=True
        ):
            if event_id not in seen:
                seen.add(event_id)
                merged.event_ids.append(event_id)
                merged.leaves.append(leaf)
                merged.rows.append(row)
                merged.personal.append(personal)
    return merged


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def read_packed(values: Sequence[bytes]) -> bytes:
    """:func:`read` for a worker process: the result as MessagePack, which crosses the
    process boundary 3.4 times faster than pickle (6.0 against 20.2 ms for 2,000
    entries, encoding and decoding, measured)."""
    return _packer.encode(read(values))


def unpack_read(data: bytes) -> Read:
    return _unpacker.decode(data)


_packer = msgspec.msgpack.Encoder()
_unpacker = msgspec.msgpack.Decoder(Read)


async def write(conn: asyncpg.Connection, audit_log: AuditLog, ready: Prepared) -> int:
    """Number the prepared entries not yet in the log and write them in one transaction,
    on the appender's connection ``conn``.

    The log's unique event ids turn copies away, and its unique positions another
    replica's appends. Both are rare (a batch read again after a crash or a rebalance;
    two replicas writing), so the first attempt asks nothing: the database refuses a
    batch that holds a copy or a taken position, and only then is the log's edge read
    again and the batch written without the events the log already has. Asking every
    time cost a quarter of the writer's time (measured).
    """
    async with audit_log.lock:
        try:
            return await _append(conn, audit_log, ready, careful=False)
        except asyncpg.UniqueViolationError:
            return await _append(conn, audit_log, ready, careful=True)


async def _append(
    conn: asyncpg.Connection, audit_log: AuditLog, ready: Prepared, *, careful: bool
) -> int:
    async with repository.appending(conn):
        if careful:  # under the lock, so the log's edge cannot move while it is read
            await _reload(conn, audit_log)
            known = await repository.known_event_ids(conn, ready.event_ids)
            log.info("audit.copies_turned_away", copies=len(known))
            ready = merge([ready], skip=known)
        if not ready.event_ids:
            return 0
        grown, nodes = grow(audit_log.frontier, ready.leaves)
        await repository.append(conn, audit_log.size, ready.rows, ready.personal, nodes)
    audit_log.frontier = grown  # only once the transaction committed
    return len(ready.event_ids)


def grow(frontier: merkle.Frontier, leaves: list[bytes]) -> tuple[merkle.Frontier, bytes]:
    """The tree's edge grown by ``leaves`` (``frontier`` is left as it is), and the
    perfect nodes to store (``repository.LOWEST_STORED_LEVEL`` up), as a
    ``pgcopy.node_data`` stream. Natively when ``audit_native`` is installed: 0.4
    against 3.1 µs a leaf (measured)."""
    lowest = repository.LOWEST_STORED_LEVEL
    if audit_native is not None:
        roots, nodes = audit_native.grow(frontier.size, frontier.roots, leaves, lowest)
        return merkle.Frontier(frontier.size + len(leaves), roots), nodes
    grown = merkle.Frontier(frontier.size, dict(frontier.roots))
    return grown, pgcopy.node_data(n for n in grown.append(leaves) if n[0] >= lowest)
