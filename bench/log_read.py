"""Reading the whole audit log: the bulk read and the entry bundles (tiles), over HTTP,
against reading the same rows straight from PostgreSQL in the same run.

    .venv/bin/python -m bench.log_read [ENTRIES] [RUNS]      # default 200,000, 3

Fills a fresh audit schema with ENTRIES entries (``devtools.synthetic_log``), signs a
head, serves the audit API from a process of its own (uvicorn, no consumer, no jobs),
then, RUNS times each, reads every entry:
- baseline: ``SELECT * FROM entries`` by position ranges of 5,000 (asyncpg, one
  connection): the rows as PostgreSQL gives them;
- bulk read: ``GET /entries?start=&end=`` by 100,000, streamed JSON lines, each line an
  entry's exact leaf data;
- entry bundles: ``GET /tile/entries/<N>``, 256 entries each, unpacked (hashing them
  against the level-0 tiles is the client's cost, not counted): one at a time, and
  ``CONCURRENCY`` at a time as tlog-tiles clients fetch them.
Prints entries a second for each and the ratio to the baseline (median of the runs).
Needs `make up`. The schema is dropped at the end unless KEEP=1.
"""

import asyncio
import multiprocessing
import os
import statistics
import sys
import time
import uuid

from sqlalchemy import text

from client import AsyncClient, ServiceUrls, Unavailable, audit
from client.log import bulk_entries
from devtools.stack import DATABASE_URL, free_port
from devtools.synthetic_log import fill
from services.audit import signing
from services.audit.config import AuditSettings
from services.audit.main import MIGRATIONS
from shared.auth import Role, mint_token
from shared.db import connect_raw, create_engine, create_sessions, migrate
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.tlog.tiles import bundles_of, unbundle

BULK_PAGE = 100_000
BASELINE_BATCH = 5_000
CONCURRENCY = 4
"""Bundles fetched at once, as tlog-tiles clients do (Tessera's fsck: --N)."""


def _serve(schema: str, port: int) -> None:
    """In a process of its own: the audit API over the schema, on ``port``."""
    import uvicorn

    from services.audit.bootstrap import bootstrap
    from services.audit.main import build_app
    from shared.app import Infrastructure, create_broker

    async def run() -> None:
        settings = AuditSettings(db_schema=schema)
        engine = create_engine(DATABASE_URL, schema, pool_size=4)
        infra = Infrastructure(
            settings=settings,
            engine=engine,
            sessions=create_sessions(engine),
            broker=create_broker(settings),
        )
        app = build_app(settings)
        app.state.runtime = await bootstrap(infra)
        config = uvicorn.Config(app, port=port, lifespan="off", log_level="warning")
        await uvicorn.Server(config).serve()

    asyncio.run(run())


async def baseline(schema: str, total: int) -> float:
    conn = await connect_raw(DATABASE_URL, schema)
    began, read = time.perf_counter(), 0
    for start in range(0, total, BASELINE_BATCH):
        rows = await conn.fetch(
            "SELECT * FROM entries WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            start,
            start + BASELINE_BATCH,
        )
        read += len(rows)
    elapsed = time.perf_counter() - began
    await conn.close()
    assert read == total
    return total / elapsed


async def bulk(api: AsyncClient, total: int) -> float:
    began, read = time.perf_counter(), 0
    for start in range(0, total, BULK_PAGE):
        tail = b""
        async for chunk in api.stream(bulk_entries(start, min(total, start + BULK_PAGE)), 1 << 20):
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            read += len(lines)
    elapsed = time.perf_counter() - began
    assert read == total, read
    return total / elapsed


async def bundles(api: AsyncClient, total: int, concurrency: int) -> float:
    began = time.perf_counter()
    limit = asyncio.Semaphore(concurrency)

    async def one(path: str) -> int:
        async with limit:
            data = await api.send(audit.tile(path))
        return len(unbundle(data))

    read = sum(await asyncio.gather(*(one(t.path) for t in bundles_of(total))))
    elapsed = time.perf_counter() - began
    assert read == total, read
    return total / elapsed


async def main(total: int, runs: int) -> None:
    schema = f"bench_log_read_{uuid.uuid4().hex[:8]}"
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    server: multiprocessing.process.BaseProcess | None = None
    try:
        await migrate(engine, MIGRATIONS, schema)
        began = time.perf_counter()
        audit_log = await fill(schema, total)
        sys.stderr.write(f"filled {total:,} entries in {time.perf_counter() - began:.0f} s\n")
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        signer = signing.Signer.from_seed(AuditSettings().signing_seed())
        await signing.sign_tree_head(create_sessions(engine), audit_log, signer)
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(target=_serve, args=(schema, port))
        server.start()
        token = mint_token(DEVELOPMENT_JWT_SECRET, role=Role.AUDITOR)
        urls = ServiceUrls({"audit": f"http://127.0.0.1:{port}"})
        results: dict[str, list[float]] = {
            "baseline": [],
            "bulk": [],
            "bundles": [],
            "bundles4": [],
        }
        async with AsyncClient(urls, token=token, timeout=60) as api:
            for _ in range(600):  # until it answers (it imports the service first)
                try:
                    await api.send(audit.checkpoint())
                    break
                except Unavailable:
                    if not server.is_alive():
                        raise RuntimeError("the audit API did not start") from None
                    await asyncio.sleep(0.2)
            for run in range(runs):
                results["baseline"].append(await baseline(schema, total))
                results["bulk"].append(await bulk(api, total))
                results["bundles"].append(await bundles(api, total, 1))
                results["bundles4"].append(await bundles(api, total, CONCURRENCY))
                sys.stderr.write(
                    f"run {run + 1}: "
                    + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in results.items())
                    + "\n"
                )
    finally:
        if server is not None:
            server.terminate()
            server.join()
        await engine.dispose()
        if os.environ.get("KEEP") != "1":
            admin = create_engine(DATABASE_URL, "public", pool_size=1)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await admin.dispose()
    base = statistics.median(results["baseline"])
    lines = [f"{total:,} entries, {runs} runs, median entries a second:"]
    for label, key in (
        ("PostgreSQL rows (SELECT *, asyncpg)", "baseline"),
        ("GET /entries (bulk read, JSON lines)", "bulk"),
        ("GET /tile/entries/<N> (bundles, one at a time)", "bundles"),
        (f"GET /tile/entries/<N> ({CONCURRENCY} at a time)", "bundles4"),
    ):
        rate = statistics.median(results[key])
        lines.append(f"{label:<46} {rate:10,.0f}/s  ({rate / base:4.2f} of the rows')")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 200_000,
            int(sys.argv[2]) if len(sys.argv) > 2 else 3,
        )
    )
