"""Use cases of the audit service: append to the log, sign tree heads, prove, check.

The log's right edge (:class:`merkle.Frontier`) lives in memory and is rebuilt from the
stored nodes at start-up or whenever another replica appended meanwhile. Appends are
serialised by an advisory lock, so entries are numbered without gaps.
"""

import asyncio
import base64
import hashlib
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import merkle, pgcopy, records, repository
from services.audit.domain import (
    ConsentChange,
    Entry,
    Verdict,
    awaits_history,
    check,
    personal_digest,
    timestamp,
    tree_head_message,
)
from services.audit.exceptions import InvalidRequest, NotFound
from services.audit.records import Access, utc
from shared.db import Sessions, transaction
from shared.events import (
    ConsentGranted,
    ConsentWithdrawn,
    UserErased,
    ViolationDetected,
    ViolationDetectedPayload,
)
from shared.logging import get_logger

try:
    import audit_native
except ImportError:  # not built (see the README): the log reads in Python, slower
    audit_native = None  # type: ignore[assignment]

log = get_logger(__name__)
PRODUCER = "audit"


@dataclass
class Signer:
    """Signs tree heads with the service's Ed25519 key."""

    key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: bytes) -> "Signer":
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> bytes:
        return self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        """The first 16 hex digits of SHA-256 of the raw public key."""
        return hashlib.sha256(self.public_key).hexdigest()[:16]

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)


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


async def sign_tree_head(
    sessions: Sessions, audit_log: AuditLog, signer: Signer, clock: "Clock | None" = None
) -> int | None:
    """Sign and store a head for the current tree unless one exists; return its size."""
    frontier = audit_log.frontier  # one read: the writer's thread replaces it
    size, root = frontier.size, frontier.root()
    if size == 0:
        return None
    async with transaction(sessions) as session:
        latest = await repository.tree_heads(session, limit=1, before=None)
        if latest and latest[0].tree_size >= size:
            return None
        now = (clock or utc_now)()  # to the millisecond, as the signed message carries it
        signed_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
        signature = signer.sign(tree_head_message(size, root, signed_at))
        await repository.add_tree_head(session, size, root, signed_at, signature, signer.key_id)
    return size


def tree_head_out(row: Any) -> dict[str, Any]:
    return {
        "tree_size": row.tree_size,
        "root_hash": base64.b64encode(row.root_hash).decode(),
        "timestamp": int(row.signed_at.timestamp() * 1000),
        "signed_at": row.signed_at,
        "signature": base64.b64encode(row.signature).decode(),
        "key_id": row.key_id,
    }


async def latest_tree_head(sessions: Sessions) -> dict[str, Any]:
    async with sessions() as session:
        rows = await repository.tree_heads(session, limit=1, before=None)
    if not rows:
        raise NotFound("no tree head has been signed yet", field="tree_size")
    return tree_head_out(rows[0])


async def _signed_size(session: Any, tree_size: int) -> None:
    if await repository.tree_head(session, tree_size) is None:
        raise NotFound(
            f"no signed tree head of size {tree_size}; ask for one of GET /tree-heads",
            field="tree_size",
        )


async def inclusion(sessions: Sessions, seq: int, tree_size: int) -> dict[str, Any]:
    """Audit path of entry ``seq`` in the signed tree of ``tree_size`` entries."""
    if not 0 <= seq < tree_size:
        raise InvalidRequest(f"entry {seq} is not in a tree of size {tree_size}", field="seq")
    async with sessions() as session:
        await _signed_size(session, tree_size)
        keys = merkle.needed(lambda get: merkle.inclusion_proof(seq, tree_size, get))
        stored = await repository.hashes(session, keys | {(0, seq)})
    proof = merkle.inclusion_proof(seq, tree_size, lambda lv, i: stored[(lv, i)])
    return {
        "seq": seq,
        "tree_size": tree_size,
        "leaf_hash": base64.b64encode(stored[(0, seq)]).decode(),
        "audit_path": [base64.b64encode(h).decode() for h in proof],
    }


async def consistency(sessions: Sessions, first: int, second: int) -> dict[str, Any]:
    """Proof that the signed tree of ``first`` entries is a prefix of that of ``second``."""
    if not 0 < first <= second:
        raise InvalidRequest("need 0 < first <= second", field="first")
    async with sessions() as session:
        await _signed_size(session, first)
        await _signed_size(session, second)
        keys = merkle.needed(lambda get: merkle.consistency_proof(first, second, get))
        stored = await repository.hashes(session, keys)
    proof = merkle.consistency_proof(first, second, lambda lv, i: stored[(lv, i)])
    return {
        "first": first,
        "second": second,
        "consistency_path": [base64.b64encode(h).decode() for h in proof],
    }


Clock = Callable[[], datetime]
"""Where the consent check and the signer take the time from (tests move it)."""


def utc_now() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


async def check_pending(
    sessions: Sessions,
    *,
    grace: timedelta,
    unknown_after: timedelta,
    limit: int,
    clock: Clock = utc_now,
) -> int:
    """Check settled disclosures not checked yet, in log order, against the consent
    history; return how many were looked at (at most ``limit``).

    A disclosure naming a consent the history has not heard of waits on its own (it is
    put off, see :func:`check_deferred`): its consent's events may still be on their
    way. Every other disclosure behind it is judged on time.
    """
    now = clock()
    async with transaction(sessions) as session:
        first = await repository.checked_up_to(session)
        pending = await repository.entries_from(
            session, first, recorded_before=now - grace, limit=limit
        )
        if pending:
            put_off = await _judge(session, pending, now=now, unknown_after=unknown_after)
            await repository.defer_checks(session, put_off, now)
    return len(pending)


async def check_deferred(
    sessions: Sessions, *, unknown_after: timedelta, batch: int, clock: Clock = utc_now
) -> int:
    """Check the disclosures put off whose consent is now known, or that waited
    ``unknown_after`` (those are flagged: the consent is unknown); return how many."""
    now = clock()
    done = 0
    after = -1
    async with transaction(sessions) as session:
        while waiting := await repository.decidable(
            session, recorded_before=now - unknown_after, after=after, limit=batch
        ):
            still = set(await _judge(session, waiting, now=now, unknown_after=unknown_after))
            await repository.undefer_checks(
                session, [seq for seq, _, _ in waiting if seq not in still]
            )
            done += len(waiting) - len(still)
            after = waiting[-1][0]
    return done


async def _judge(
    session: AsyncSession,
    entries: Sequence[tuple[int, Entry, bytes]],
    *,
    now: datetime,
    unknown_after: timedelta,
) -> list[int]:
    """Record the verdicts of ``entries``, announcing violations; return the positions
    of those that wait for their consent's history."""
    consent_ids = [e.consent_id for _, e, _ in entries if e.consent_id]
    changes = await repository.consent_changes(session, consent_ids)
    rows = []
    waiting = []
    flagged: list[ViolationDetected] = []
    for seq, entry, _ in entries:
        if awaits_history(entry, changes) and entry.recorded_at > now - unknown_after:
            waiting.append(seq)
            continue
        verdict, reason = check(entry, changes)
        rows.append((seq, verdict.value, reason, now))
        if verdict is Verdict.VIOLATION:
            flagged.append(
                ViolationDetected.create(
                    producer=PRODUCER,
                    subject_id=entry.subject_id,
                    payload=ViolationDetectedPayload(
                        disclosure_event_id=entry.event_id,
                        log_index=seq,
                        organisation_id=entry.organisation_id,
                        purpose=entry.purpose,
                        reason=reason,
                    ),
                )
            )
    await repository.add_checks(session, rows)
    await repository.stage_events(session, flagged)
    if flagged:  # one line a batch: each violation is listed and announced already
        seqs = [v.payload.log_index for v in flagged]
        log.warning("audit.violations", count=len(seqs), seqs=seqs[:20])
    return waiting


async def check_settled(
    sessions: Sessions,
    *,
    grace: timedelta,
    unknown_after: timedelta,
    batch: int = 1000,
    clock: Clock = utc_now,
) -> int:
    """Check every settled disclosure not yet checked, a batch at a time, and the ones
    put off that can be decided now; return how many were looked at."""
    total = await check_deferred(sessions, unknown_after=unknown_after, batch=batch, clock=clock)
    for _ in range(10_000):  # bounded: a round of 2,500,000 entries at most
        done = await check_pending(
            sessions, grace=grace, unknown_after=unknown_after, limit=batch, clock=clock
        )
        total += done
        if done < batch:
            break
    return total


async def record_consents(
    sessions: Sessions, batch: Sequence[ConsentGranted | ConsentWithdrawn]
) -> None:
    """Keep the consent history the after-the-fact check needs (idempotent)."""
    changes = [
        ConsentChange(
            consent_id=e.payload.consent_id,
            version=e.payload.version,
            action="granted" if isinstance(e, ConsentGranted) else "withdrawn",
            user_id=e.payload.user_id,
            purpose=e.payload.purpose,
            organisation=e.payload.organisation_id,
            country=e.payload.country,
            at=e.payload.valid_from,
            valid_until=e.payload.valid_until,
        )
        for e in batch
    ]
    if changes:
        async with transaction(sessions) as session:
            await repository.add_consent_changes(session, changes)


async def erase(sessions: Sessions, event: UserErased) -> int:
    """Drop the personal part of the subject's entries; the entries and proofs stay."""
    async with transaction(sessions) as session:
        return await repository.erase_subject(session, event.payload.user_id, datetime.now(UTC))
