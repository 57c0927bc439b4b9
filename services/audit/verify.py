"""Recompute the audit log from its stored entries and report the first thing that no
longer matches: an entry whose data changed, a tree node, or a signed tree head.

    python -m services.audit.verify            # the audit schema of DATABASE_URL
    AUDIT_DB_SCHEMA=... python -m services.audit.verify

Exit status 0 when everything matches, 1 at the first mismatch (printed as JSON).
"""

import asyncio
import json
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.audit import merkle, repository
from services.audit.config import AuditSettings
from services.audit.domain import tree_head_message
from services.audit.service import Signer
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
        return self.first_mismatch is None


async def verify(sessions: Sessions, public_key: bytes) -> Report:
    """Walk the log in order, recomputing leaves, nodes and signed roots."""
    report = Report()
    key = Ed25519PublicKey.from_public_bytes(public_key)
    frontier = merkle.Frontier()
    async with sessions() as session:
        heads = {
            r.tree_size: r
            for r in await repository.tree_heads(session, limit=1_000_000, before=None)
        }
        after = -1
        while report.ok:
            batch = await repository.entries_from(
                session, after + 1, recorded_before=datetime.max.replace(tzinfo=UTC), limit=BATCH
            )
            if not batch:
                break
            created: list[tuple[int, int, bytes]] = []
            for seq, entry, stored_leaf in batch:
                if seq != frontier.size:
                    report.first_mismatch = {"seq": frontier.size, "problem": "entry missing"}
                    break
                leaf = merkle.leaf_hash(entry.leaf())
                if leaf != stored_leaf:
                    report.first_mismatch = {
                        "seq": seq,
                        "event_id": entry.event_id,
                        "problem": "the entry's data no longer matches its leaf hash",
                    }
                    break
                created += frontier.append([leaf])
                report.entries += 1
                head = heads.get(frontier.size)
                if head is not None:
                    problem = _check_head(head, frontier.root(), key)
                    if problem:
                        report.first_mismatch = {"tree_size": frontier.size, "problem": problem}
                        break
                    report.tree_heads += 1
            # the lower levels are not stored: they are hashed from the leaves checked above
            created = [n for n in created if n[0] >= repository.LOWEST_STORED_LEVEL]
            if report.ok and created:
                nodes = await repository.hashes(session, [(lv, i) for lv, i, _ in created])
                for level, index, value in created:
                    if nodes.get((level, index)) != value:
                        report.first_mismatch = {
                            "node": [level, index],
                            "problem": "a stored tree node differs from the recomputed one",
                        }
                        break
                    report.nodes += 1
            after = batch[-1][0]
    return report


def _check_head(head: Any, root: bytes, key: Ed25519PublicKey) -> str | None:
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
