"""Recompute the audit log from what is stored and report the first thing that no longer
matches, in log order: an entry missing, an entry whose data or personal part changed,
a tree node, or a signed tree head.

    python -m services.audit.verify            # the audit schema of DATABASE_URL
    AUDIT_DB_SCHEMA=... python -m services.audit.verify

Every stored value that went into a leaf or a digest is derived again and compared:
each entry's fields against its leaf hash, its personal part (salt and the subject's
country) against the digest the leaf commits to, each stored node against the one
recomputed from the leaves, each signed root and its signature. An entry whose personal
part was deleted by an erasure stays valid; one whose personal part is gone otherwise
does not. Exit status 0 when everything matches, 1 at the first mismatch (as JSON).
"""

import asyncio
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import merkle, repository
from services.audit.config import AuditSettings
from services.audit.domain import personal_digest, tree_head_message
from services.audit.signing import Signer
from shared.db import Sessions, create_engine, create_sessions

BATCH = 10_000


@dataclass
class Report:
    entries: int = 0
    nodes: int = 0
    tree_heads: int = 0
    first_mismatch: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Nothing differed."""
        return self.first_mismatch is None


@dataclass
class _Step:
    """One entry that checked out, what its leaf completed, and the root if signed."""

    seq: int
    nodes: list[tuple[int, int, bytes]]
    root: bytes | None


async def verify(sessions: Sessions, public_key: bytes) -> Report:
    """Walk the log in order, recomputing leaves, digests, nodes and signed roots."""
    report = Report()
    key = Ed25519PublicKey.from_public_bytes(public_key)
    frontier = merkle.Frontier()
    async with sessions() as session:
        heads = {
            r.tree_size: r
            for r in await repository.tree_heads(session, limit=1_000_000, before=None)
        }
        while report.ok:
            batch = await repository.stored_range(session, frontier.size, frontier.size + BATCH)
            if not batch:
                break
            await _check_batch(session, batch, frontier, heads, key, report)
    if report.ok and heads and max(heads) > frontier.size:  # entries signed, then lost
        report.first_mismatch = {
            "seq": frontier.size,
            "problem": f"entry missing: a tree head was signed for {max(heads)} entries",
        }
    return report


async def _check_batch(
    session: AsyncSession,
    batch: list[repository.Stored],
    frontier: merkle.Frontier,
    heads: dict[int, Any],
    key: Ed25519PublicKey,
    report: Report,
) -> None:
    erased = await repository.erased(
        session, (s.entry.subject_id for s in batch if not s.has_personal)
    )
    # First the entries, up to the first that does not check out; then, in the same
    # order, the nodes and heads their leaves complete: whichever differs first is named.
    steps: list[_Step] = []
    entry_problem: dict[str, Any] | None = None
    for stored in batch:
        entry_problem = _entry_problem(stored, frontier.size, erased)
        if entry_problem is not None:
            break
        created = frontier.append([merkle.leaf_hash(stored.entry.leaf())])
        root = frontier.root() if frontier.size in heads else None
        steps.append(_Step(stored.seq, created, root))
    # the lower levels are not stored: they are hashed from the leaves checked above
    wanted = [(lv, i) for step in steps for lv, i, _ in step.nodes]
    wanted = [(lv, i) for lv, i in wanted if lv >= repository.LOWEST_STORED_LEVEL]
    nodes = await repository.hashes(session, wanted) if wanted else {}
    for step in steps:
        for level, index, value in step.nodes:
            if level < repository.LOWEST_STORED_LEVEL:
                continue
            if nodes.get((level, index)) != value:
                report.first_mismatch = {
                    "node": [level, index],
                    "problem": "a stored tree node differs from the recomputed one",
                }
                return
            report.nodes += 1
        report.entries += 1
        if step.root is not None:
            size = step.seq + 1
            problem = _head_problem(heads[size], step.root, key)
            if problem:
                report.first_mismatch = {"tree_size": size, "problem": problem}
                return
            report.tree_heads += 1
    report.first_mismatch = entry_problem


def _entry_problem(
    stored: repository.Stored, expected: int, erased: set[str]
) -> dict[str, Any] | None:
    if stored.seq != expected:
        return {"seq": expected, "problem": "entry missing"}
    entry = stored.entry
    named = {"seq": stored.seq, "event_id": entry.event_id}
    if merkle.leaf_hash(entry.leaf()) != stored.leaf_hash:
        return {**named, "problem": "the entry's data no longer matches its leaf hash"}
    if stored.has_personal:
        assert stored.salt is not None  # a personal part always has its salt
        if personal_digest(stored.salt, stored.subject_country) != entry.personal_digest:
            return {**named, "problem": "the entry's personal part no longer matches its digest"}
    elif entry.subject_id not in erased:
        return {**named, "problem": "the entry's personal part is gone, but no erasure asked"}
    return None


def _head_problem(head: Any, root: bytes, key: Ed25519PublicKey) -> str | None:
    if bytes(head.root_hash) != root:
        return "the signed root differs from the root recomputed from the entries"
    try:
        key.verify(bytes(head.signature), tree_head_message(head.tree_size, root, head.signed_at))
    except InvalidSignature:
        return "the tree head's signature does not verify"
    return None


async def _main() -> int:
    settings = AuditSettings()
    engine = create_engine(settings.database_url, settings.schema_name, pool_size=1)
    try:
        public = Signer.from_seed(settings.signing_seed()).public_key
        report = await verify(create_sessions(engine), public)
    finally:
        await engine.dispose()
    sys.stdout.write(json.dumps({**asdict(report), "ok": report.ok}, indent=2) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_main()))
