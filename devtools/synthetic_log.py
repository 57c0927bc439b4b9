"""A synthetic audit log, written fast through the log's own append path (leaf hashes,
binary COPY rows, the tree nodes), without Kafka or the reader: for the benchmarks and
the tests that need a large log (a million entries in well under a minute)."""

import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from devtools.stack import DATABASE_URL
from services.audit import ingestion, merkle, pgcopy, repository
from services.audit.domain import Entry, personal_digest
from shared.db import connect_raw

ORGS = [f"org-{i:02d}" for i in range(58)]
SUBJECTS = 100_000
BATCH = 50_000


def entries(first: int, count: int, start: datetime) -> list[Entry]:
    """Entries ``first`` to ``first + count``, the same for the same positions."""
    rng = random.Random(first)
    salt = b"bench-salt-00000"
    digest = personal_digest(salt, "PH")
    out = []
    for i in range(first, first + count):
        org = ORGS[rng.randrange(len(ORGS))]
        out.append(
            Entry(
                event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                producer="registry",
                accessed_at=start + timedelta(milliseconds=i),
                recorded_at=start + timedelta(milliseconds=i, microseconds=500),
                organisation_id=org,
                organisation_country="PH",
                actor=f"analyst@{org}",
                subject_id=f"subject-{rng.randrange(SUBJECTS)}",
                fields=("email_address", "full_name"),
                purpose="member_organisation_sharing",
                legal_basis="consent",
                legal_reference=None,
                channel="registry_api",
                decision="allow",
                decision_reason="consent and access grant in force",
                consent_id=f"consent-{i}",
                consent_version=1,
                grant_id="grant-1",
                personal_digest=digest,
            )
        )
    return out


async def fill(schema: str, total: int, *, quiet: bool = False) -> ingestion.AuditLog:
    """Append ``total`` entries to the (migrated, empty) audit schema; its edge."""
    audit_log = ingestion.AuditLog()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    began = time.perf_counter()
    conn = await connect_raw(DATABASE_URL, schema)
    personal = pgcopy.personal_row(b"bench-salt-00000", "PH")
    while audit_log.size < total:
        batch = entries(audit_log.size, min(BATCH, total - audit_log.size), start)
        leaves = [merkle.leaf_hash(e.leaf()) for e in batch]
        rows = [pgcopy.entry_row(e, leaf) for e, leaf in zip(batch, leaves, strict=True)]
        grown, nodes = ingestion.grow(audit_log.frontier, leaves)
        async with repository.appending(conn):
            await repository.append(conn, audit_log.size, rows, [personal] * len(rows), nodes)
        audit_log.frontier = grown
        if not quiet and audit_log.size % 1_000_000 == 0:
            rate = audit_log.size / (time.perf_counter() - began)
            sys.stderr.write(f"  {audit_log.size:,} entries ({rate:,.0f}/s)\n")
    await conn.close()
    return audit_log
