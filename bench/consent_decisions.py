"""Decision API throughput and latency against a trivial endpoint of the same app.

    .venv/bin/python -m bench.consent_decisions [SECONDS] [CONNECTIONS]

Starts the consent service with uvicorn (one worker) on a fresh schema, seeds a user
with consent and an access grant, then loads ``POST /decisions`` and ``GET /healthz``
in turn with wrk (Debian package ``wrk``) at a fixed concurrency. Needs `make up`.
"""

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from devtools.topics import drop_topics
from services.consent.repository import NOTICE_VERSION
from shared.auth import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET

PORT = 18002
BASE = f"http://127.0.0.1:{PORT}"
ORG = "ph-department-of-trade-and-industry"


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for name in ("50", "99"):
        value, unit = re.search(rf"\s{name}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        figures[f"p{name}"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    return figures


def seed(user: str) -> None:
    admin = {"Authorization": f"Bearer {mint_token(DEVELOPMENT_JWT_SECRET, role=Role.ADMIN)}"}
    now = datetime.now(UTC)
    with httpx.Client(base_url=BASE, headers=admin) as http:
        http.post(
            "/grants",
            json={
                "organisation": ORG,
                "data_categories": ["email_address"],
                "valid_from": (now - timedelta(days=1)).isoformat(),
                "valid_until": (now + timedelta(days=1)).isoformat(),
            },
        ).raise_for_status()
        http.post(
            "/consents",
            json={
                "user_id": user,
                "purpose": "member_organisation_sharing",
                "notice_version": NOTICE_VERSION,
            },
        ).raise_for_status()


def main(seconds: int, connections: int) -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is missing; install it with 'apt-get install wrk'.")
    schema = f"bench_consent_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "CONSENT_DB_SCHEMA": schema,
        "CONSENT_HTTP_PORT": str(PORT),
        "CONSENT_TOPIC_PREFIX": f"{schema}.",  # topics of the run's own, deleted at the end
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "services.consent.main"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{BASE}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        user = f"bench-{uuid.uuid4().hex[:8]}"
        seed(user)
        token = mint_token(DEVELOPMENT_JWT_SECRET, role=Role.PLATFORM)
        body = json.dumps(
            {
                "user_id": user,
                "organisation": ORG,
                "purpose": "member_organisation_sharing",
                "data_categories": ["email_address"],
                "subject_country": "PH",
            }
        )
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(
                f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                f'wrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.headers["Authorization"] = "Bearer {token}"\n'
            )
        check = httpx.post(
            f"{BASE}/decisions",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert check.json()["allow"], check.text
        wrk(f"{BASE}/healthz", 2, connections, None)  # warm-up
        trivial = wrk(f"{BASE}/healthz", seconds, connections, None)
        decisions = wrk(f"{BASE}/decisions", seconds, connections, Path(lua.name))
        with open(lua.name, "a") as traced_lua:
            traced_lua.write(
                'wrk.headers["traceparent"] = '
                '"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"\n'
            )
        traced = wrk(f"{BASE}/decisions", seconds, connections, Path(lua.name))
    finally:
        server.terminate()
        server.wait()
        asyncio.run(_drop(schema))
        asyncio.run(drop_topics(f"{schema}."))
    lines = [
        f"concurrency {connections}, {seconds} s each, one uvicorn worker",
        f"GET /healthz     {trivial['rps']:8,.0f} req/s  p50 {trivial['p50']:.2f} ms"
        f"  p99 {trivial['p99']:.2f} ms",
        f"POST /decisions  {decisions['rps']:8,.0f} req/s  p50 {decisions['p50']:.2f} ms"
        f"  p99 {decisions['p99']:.2f} ms",
        f"  ...traced      {traced['rps']:8,.0f} req/s  p50 {traced['p50']:.2f} ms"
        f"  p99 {traced['p99']:.2f} ms  (caller sent a traceparent: the span is recorded)",
        f"decisions / trivial throughput: {decisions['rps'] / trivial['rps']:.2f}"
        f" (traced: {traced['rps'] / trivial['rps']:.2f})",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


async def _drop(schema: str) -> None:
    from sqlalchemy import text

    from devtools.stack import DATABASE_URL
    from shared.db import create_engine

    engine = create_engine(DATABASE_URL, "public", pool_size=1)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [10, 16][len(args) :]))
