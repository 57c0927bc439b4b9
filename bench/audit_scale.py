"""Audit queries and proofs on a large log, against a primary-key lookup in the same run.

    .venv/bin/python -m bench.audit_scale [ENTRIES]      # default 10,000,000

Fills a fresh audit schema with ENTRIES disclosures (100,000 subjects, the seeded
organisations) through the service's own append path in batches (leaf hashes, tree
nodes, one signed tree head at the end), then times, over 200 random picks each:
- baseline: ``SELECT ... FROM entries WHERE seq = $1`` (one index probe);
- an auditor's query for one subject (first page of 100, as ``GET /disclosures``);
- an inclusion proof in the signed tree (as ``GET /proofs/inclusion``);
- a consistency proof between a tree half the size and the whole.
Needs `make up`. The schema is dropped at the end unless KEEP=1.
"""

import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from devtools.stack import DATABASE_URL
from devtools.synthetic_log import SUBJECTS, fill
from services.audit import merkle, proofs, queries, repository, signing
from services.audit.config import AuditSettings
from services.audit.main import MIGRATIONS
from shared.db import create_engine, create_sessions, migrate


async def timed(label: str, calls: list, runs: int = 200) -> dict[str, float]:
    samples = []
    for call in calls[:runs]:
        t = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p99": samples[int(len(samples) * 0.99) - 1],
        "label": label,  # type: ignore[dict-item]
    }


async def main(total: int) -> None:
    schema = f"bench_audit_{uuid.uuid4().hex[:8]}"
    engine = create_engine(DATABASE_URL, schema, pool_size=4)
    sessions = create_sessions(engine)
    try:
        await migrate(engine, MIGRATIONS, schema)
        began = time.perf_counter()
        audit_log = await fill(schema, total)
        filled = time.perf_counter() - began
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        signer = signing.Signer.from_seed(AuditSettings().signing_seed())
        await signing.sign_tree_head(sessions, audit_log, signer)
        # a head for half the tree, for the consistency proofs
        keys = merkle.Frontier.keys(total // 2)
        async with sessions() as session:
            stored = await repository.hashes(session, keys)
            half = merkle.Frontier(total // 2, {lv: stored[(lv, i)] for lv, i in keys})
            await repository.add_tree_head(
                session, total // 2, half.root(), datetime.now(UTC), b"-", "bench"
            )
            await session.commit()
        rng = random.Random(7)

        async def lookup(seq: int) -> None:
            async with sessions() as session:
                await session.execute(
                    text("SELECT seq, subject_id FROM entries WHERE seq = :s"), {"s": seq}
                )

        base = await timed(
            "primary-key lookup", [lambda s=rng.randrange(total): lookup(s) for _ in range(200)]
        )
        subject = await timed(
            "one subject's disclosures (page of 100)",
            [
                lambda s=rng.randrange(SUBJECTS): queries.page(
                    sessions, queries.Filters(subject=f"subject-{s}"), after=None, limit=100
                )
                for _ in range(200)
            ],
        )
        inclusion = await timed(
            "inclusion proof",
            [
                lambda s=rng.randrange(total): proofs.inclusion(sessions, s, total)
                for _ in range(200)
            ],
        )
        consistency = await timed(
            "consistency proof",
            [lambda: proofs.consistency(sessions, total // 2, total) for _ in range(200)],
        )
    finally:
        await engine.dispose()
        if os.environ.get("KEEP") != "1":
            admin = create_engine(DATABASE_URL, "public", pool_size=1)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()
    lines = [f"{total:,} entries written in {filled:,.0f} s ({total / filled:,.0f}/s)"]
    for r in (base, subject, inclusion, consistency):
        ratio = r["p50"] / base["p50"]
        lines.append(
            f"{r['label']:<42} p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms"
            f"  ({ratio:4.1f}x the lookup's p50)"
        )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000))
