"""``privacyctl trail export`` and ``privacyctl log verify`` against reading the same rows
straight from PostgreSQL, in the same run.

    .venv/bin/python -m bench.cli_reads [ENTRIES] [RUNS]      # default 100,000 entries, 3 runs

Fills a fresh audit schema with ENTRIES disclosures through the service's own append
path (``bench.audit_scale.fill``) and signs a tree head; serves the audit API from a
process of its own (the app bootstrapped without its Kafka consumer, so the broker's
history costs nothing); then, RUNS times each:
- baseline: every entry row straight from PostgreSQL (asyncpg, one query, as rows);
- ``privacyctl trail export --format jsonl -o FILE`` (the command, as a process);
- the same export read with the client in this process (no start-up, nothing written);
- ``privacyctl log verify --json`` (the command, as a process; it reads every entry over
  HTTP with the bulk read, re-hashes it and recomputes the root);
- ``privacyctl log head`` (one small request): the commands' start-up, which the two
  figures above include (about a second on a loaded machine: at 10,000 entries it alone
  would cap a command at 10,000 a second, so the default is 100,000).
Prints entries a second and the ratio to the baseline. Needs `make up`. ``VERIFY=0``
leaves ``log verify`` out.
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import uvicorn
from sqlalchemy import text

from bench.audit_scale import fill
from client import Client, ServiceUrls, audit
from devtools.stack import DATABASE_URL, ROOT, free_port, wait_ready
from services.audit import signing
from services.audit.bootstrap import bootstrap
from services.audit.config import AuditSettings
from services.audit.main import MIGRATIONS, build_app
from shared.app import Infrastructure, create_broker
from shared.auth import Role, mint_token
from shared.db import connect_raw, create_engine, create_sessions, migrate


async def serve(schema: str, port: int) -> None:
    """The audit API on ``schema`` without its consumer or jobs (a bench's server)."""
    settings = AuditSettings(db_schema=schema, log_json=True, log_level="WARNING")
    engine = create_engine(DATABASE_URL, schema, pool_size=8)
    app = build_app(settings)
    infra = Infrastructure(
        settings=settings,
        engine=engine,
        sessions=create_sessions(engine),
        broker=create_broker(settings),
    )
    app.state.runtime = await bootstrap(infra)
    # lifespan off: the service's start-up would start its consumer and jobs too
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    await uvicorn.Server(config).serve()


async def baseline(schema: str) -> float:
    """Seconds to read every entry row from PostgreSQL."""
    conn = await connect_raw(DATABASE_URL, schema)
    try:
        began = time.perf_counter()
        rows = await conn.fetch("SELECT * FROM entries ORDER BY seq")
        elapsed = time.perf_counter() - began
        assert rows
        return elapsed
    finally:
        await conn.close()


def command(token: str, port: int, *args: str) -> tuple[float, str]:
    """Seconds the command took, start-up included, and its stdout."""
    env = {
        **os.environ,
        "PRIVACYCTL_TOKEN": token,
        "PRIVACYCTL_CONFIG": str(Path(tempfile.gettempdir()) / f"bench-{uuid.uuid4().hex}.json"),
        "NO_COLOR": "1",
    }
    config = {"default": {"urls": {"audit": f"http://127.0.0.1:{port}"}}}
    Path(env["PRIVACYCTL_CONFIG"]).write_text(json.dumps(config))
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "privacyctl.main", *args, "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    elapsed = time.perf_counter() - began
    Path(env["PRIVACYCTL_CONFIG"]).unlink()
    if done.returncode != 0:
        raise RuntimeError(f"privacyctl {' '.join(args)}: exit {done.returncode}: {done.stderr}")
    return elapsed, done.stdout


def stream(token: str, port: int) -> float:
    """Seconds to read the whole export with the client, in this process."""
    urls = ServiceUrls({"audit": f"http://127.0.0.1:{port}"})
    with Client(urls, token=token) as api:
        began = time.perf_counter()
        rows = sum(chunk.count(b"\n") for chunk in api.stream(audit.export()))
        elapsed = time.perf_counter() - began
    assert rows > 0
    return elapsed


async def main(total: int, runs: int) -> None:
    schema = f"bench_cli_{uuid.uuid4().hex[:8]}"
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    server = None
    try:
        await migrate(engine, MIGRATIONS, schema)
        audit_log = await fill(schema, total)
        signer = signing.Signer.from_seed(AuditSettings().signing_seed())
        await signing.sign_tree_head(create_sessions(engine), audit_log, signer)
        port = free_port()
        server = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is timed
            [sys.executable, "-m", "bench.cli_reads", "--serve", schema, str(port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        wait_ready(f"http://127.0.0.1:{port}/healthz", process=server)
        token = mint_token(AuditSettings().jwt_secret.get_secret_value(), role=Role.AUDITOR)
        lines = [f"{total:,} entries; entries a second (ratio to reading them from PostgreSQL)"]
        with tempfile.TemporaryDirectory() as tmp:
            for run in range(1, runs + 1):
                base = total / await baseline(schema)
                seconds, _ = command(token, port, "trail", "export", "-o", f"{tmp}/t.jsonl")
                exported = total / seconds
                streamed = total / stream(token, port)
                started, _ = command(token, port, "log", "head")
                line = (
                    f"run {run}: PostgreSQL {base:>9,.0f}/s   trail export {exported:>8,.0f}/s "
                    f"({exported / base:.3f})   client stream {streamed:>8,.0f}/s "
                    f"({streamed / base:.3f})   start-up {started:.2f} s"
                )
                if os.environ.get("VERIFY") != "0":
                    seconds, out = command(token, port, "log", "verify", "--json")
                    report = json.loads(out)
                    assert report["ok"], report
                    verified = total / seconds
                    line += (
                        f"   log verify {verified:>8,.0f}/s ({verified / base:.3f}; "
                        f"{report['entries_per_second']:,}/s by its own clock)"
                    )
                lines.append(line)
                sys.stderr.write(lines[-1] + "\n")
        sys.stdout.write("\n".join(lines) + "\n")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        await engine.dispose()
        if os.environ.get("KEEP") != "1":
            admin = create_engine(DATABASE_URL, "public", pool_size=1)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        asyncio.run(serve(sys.argv[2], int(sys.argv[3])))
    else:
        count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
        asyncio.run(main(count, int(sys.argv[2]) if len(sys.argv) > 2 else 3))
