"""The member-organisation read path against the decision it is built on, in one run.

    .venv/bin/python -m bench.registry_reads [SECONDS] [CONNECTIONS]

Starts the consent service and the registry (one uvicorn worker each) on fresh
schemas, registers a user who consented to sharing with an organisation holding an
access grant, then loads with wrk, in turn:
- the baseline: the consent service's ``POST /decisions`` with the same question;
- ``GET /users/{id}/data``: the registry reads the user, asks the consent service,
  stages a ``data.accessed`` event in the outbox and commits, then answers;
- ``POST /reports/users``: a batch of BATCH users read at once (one decision and one
  event per user, all committed before the answer).
Prints requests per second, p50 and p99, the CPU each process spent per request, the
read path's ratio to the decision API and the batch's per-user rate against the single
read. Needs `make up` and wrk.
"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.consent_decisions import _drop, wrk
from devtools.topics import drop_topics
from services.consent.repository import NOTICE_VERSION
from shared.auth import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET

CONSENT, REGISTRY = 18012, 18011
ORG = "ph-department-of-trade-and-industry"
FIELDS = ["email_address", "full_name"]
BATCH = 100
"""Users per batch read."""
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def loaded(
    url: str, seconds: int, connections: int, script: Path, servers: list[subprocess.Popen[bytes]]
) -> dict[str, float]:
    """wrk's figures, with each server's CPU milliseconds per request."""
    before = [cpu_seconds(s.pid) for s in servers]
    figures = wrk(url, seconds, connections, script)
    spent = [cpu_seconds(s.pid) - b for s, b in zip(servers, before, strict=True)]
    requests = figures["rps"] * seconds
    for name, cpu in zip(("consent", "registry"), spent, strict=False):
        figures[f"cpu_{name}"] = 1000 * cpu / requests
    return figures


def bearer(role: Role, **claims: str) -> dict[str, str]:
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def start(module: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=subprocess.DEVNULL)
    for _ in range(120):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise RuntimeError(f"{module} did not become ready")


def seed(count: int = 1) -> list[str]:
    """Registered users who consented to sharing with ORG, which holds a grant."""
    now = datetime.now(UTC)
    with httpx.Client() as http:
        http.post(
            f"http://127.0.0.1:{CONSENT}/grants",
            headers=bearer(Role.ADMIN),
            json={
                "organisation": ORG,
                "data_categories": FIELDS,
                "valid_from": (now - timedelta(days=1)).isoformat(),
                "valid_until": (now + timedelta(days=1)).isoformat(),
            },
        ).raise_for_status()
        return [_user(http) for _ in range(count)]


def _user(http: httpx.Client) -> str:
    user = http.post(
        f"http://127.0.0.1:{REGISTRY}/users",
        headers=bearer(Role.PLATFORM),
        json={
            "full_name": "Bench Mark",
            "email_address": f"bench-{uuid.uuid4().hex[:12]}@example.ph",
            "country_of_residence": "PH",
            "company_name": "Bench Co",
            "company_country": "PH",
            "company_registration_number": "SEC-1",
            "business_support_network": "a chamber",
            "referral_source": "a benchmark",
        },
    )
    user.raise_for_status()
    user_id: str = user.json()["user_id"]
    http.post(
        f"http://127.0.0.1:{CONSENT}/consents",
        headers=bearer(Role.ADMIN),
        json={
            "user_id": user_id,
            "purpose": "member_organisation_sharing",
            "organisation": ORG,
            "notice_version": NOTICE_VERSION,
        },
    ).raise_for_status()
    return user_id


def lua(method: str, headers: dict[str, str], body: str | None = None) -> Path:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines += [
            f"wrk.body = {json.dumps(body)}",
            'wrk.headers["Content-Type"] = "application/json"',
        ]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    return Path(script.name)


def main(seconds: int, connections: int) -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is missing; install it with 'apt-get install wrk'.")
    tag = uuid.uuid4().hex[:8]
    schemas = {
        "CONSENT_DB_SCHEMA": f"bench_consent_{tag}",
        "REGISTRY_DB_SCHEMA": f"bench_reg_{tag}",
    }
    env = {
        **os.environ,
        **schemas,
        "CONSENT_HTTP_PORT": str(CONSENT),
        "REGISTRY_HTTP_PORT": str(REGISTRY),
        "REGISTRY_CONSENT_URL": f"http://127.0.0.1:{CONSENT}",
        "TOPIC_PREFIX": f"bench.{tag}.",  # topics of the run's own, deleted at the end
        "LOG_LEVEL": "WARNING",
    }
    servers = [start("services.consent.main", env, CONSENT)]
    try:
        servers.append(start("services.registry.main", env, REGISTRY))
        user_id, *others = seed(BATCH)
        question = {
            "user_id": user_id,
            "organisation": ORG,
            "purpose": "member_organisation_sharing",
            "data_categories": FIELDS,
            "subject_country": "PH",
        }
        decision_url = f"http://127.0.0.1:{CONSENT}/decisions"
        read_url = (
            f"http://127.0.0.1:{REGISTRY}/users/{user_id}/data"
            f"?purpose=member_organisation_sharing&fields={','.join(FIELDS)}"
        )
        org = bearer(Role.MEMBER_ORG, org_id=ORG, sub="analyst")
        check = httpx.get(read_url, headers=org)
        assert check.status_code == 200, check.text
        batch_url = f"http://127.0.0.1:{REGISTRY}/reports/users"
        report = {
            "purpose": "member_organisation_sharing",
            "fields": FIELDS,
            "user_ids": [user_id, *others],
        }
        answer = httpx.post(batch_url, headers=org, json=report, timeout=30)
        assert answer.status_code == 200 and len(answer.json()["disclosed"]) == BATCH, answer.text
        decide_script = lua("POST", bearer(Role.PLATFORM), json.dumps(question))
        read_script = lua("GET", org)
        batch_script = lua("POST", org, json.dumps(report))
        wrk(decision_url, 2, connections, decide_script)  # warm-up
        wrk(read_url, 2, connections, read_script)
        decisions = loaded(decision_url, seconds, connections, decide_script, servers)
        reads = loaded(read_url, seconds, connections, read_script, servers)
        batches = loaded(batch_url, seconds, max(2, connections // 4), batch_script, servers)
    finally:
        for server in servers:
            server.terminate()
            server.wait()
        for schema in schemas.values():
            asyncio.run(_drop(schema))
        asyncio.run(drop_topics(f"bench.{tag}."))
    per_user = batches["rps"] * BATCH

    def line(name: str, f: dict[str, float]) -> str:
        return (
            f"{name:<30}{f['rps']:8,.0f} req/s  p50 {f['p50']:.2f} ms  p99 {f['p99']:.2f} ms"
            f"  CPU/request: consent {f['cpu_consent']:.2f} ms, registry {f['cpu_registry']:.2f} ms"
        )

    lines = [
        f"concurrency {connections} ({max(2, connections // 4)} for batches), {seconds} s each,"
        " one uvicorn worker per service",
        line("POST /decisions (consent)", decisions),
        line("GET /users/{id}/data", reads),
        line(f"POST /reports/users ({BATCH})", batches),
        f"read path / decision throughput: {reads['rps'] / decisions['rps']:.2f}",
        f"batch read: {per_user:,.0f} users/s, {per_user / reads['rps']:.1f} x the single read",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [10, 16][len(args) :]))
