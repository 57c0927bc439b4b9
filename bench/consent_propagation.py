"""How long a change made on one consent replica takes to be answered by another.

    .venv/bin/python -m bench.consent_propagation [ROUNDS]

Starts two consent replicas (uvicorn, one worker each) on two ports, one fresh schema
and one broker (the service's groups of the registry's events start at the topics'
ends, so the broker's history of registrations is not replayed while measuring), then,
ROUNDS times, makes four changes on replica A (an access grant created; under it a
consent granted and withdrawn; the grant revoked) and polls replica B's
``POST /decisions`` every 5 ms until it answers with each. A change's propagation time
runs from A's answer to B's first answer that reflects it. Prints p50, p99 and max per
kind and overall. Needs `make up`.
"""

import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.consent_decisions import _drop
from devtools.stack import free_port, start_service
from devtools.topics import drop_topics
from services.consent.repository import NOTICE_VERSION
from shared.auth import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET

ORG = "ph-department-of-trade-and-industry"
SHARING = "member_organisation_sharing"
POLL_SECONDS = 0.005
GIVE_UP_SECONDS = 30.0
ADMIN = {"Authorization": f"Bearer {mint_token(DEVELOPMENT_JWT_SECRET, role=Role.ADMIN)}"}
PLATFORM = {"Authorization": f"Bearer {mint_token(DEVELOPMENT_JWT_SECRET, role=Role.PLATFORM)}"}


async def allowed(b: httpx.AsyncClient, user: str) -> bool:
    response = await b.post(
        "/decisions",
        json={
            "user_id": user,
            "organisation": ORG,
            "purpose": SHARING,
            "data_categories": ["email_address"],
            "subject_country": "PH",
        },
        headers=PLATFORM,
    )
    response.raise_for_status()
    return bool(response.json()["allow"])


async def propagation(b: httpx.AsyncClient, user: str, expected: bool, since: float) -> float:
    """Seconds from ``since`` until B answers ``expected`` for ``user``."""
    while (await allowed(b, user)) is not expected:
        if time.monotonic() - since > GIVE_UP_SECONDS:
            raise TimeoutError(f"replica B never answered allow={expected} for {user}")
        await asyncio.sleep(POLL_SECONDS)
    return time.monotonic() - since


async def write(a: httpx.AsyncClient, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    response = await a.post(path, json=body, headers=ADMIN)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def measure(a_url: str, b_url: str, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    now = datetime.now(UTC)
    window = {
        "organisation": ORG,
        "data_categories": ["email_address"],
        "valid_from": (now - timedelta(days=1)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(),
    }
    standing = f"bench-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=a_url) as a, httpx.AsyncClient(base_url=b_url) as b:
        consent = {"purpose": SHARING, "notice_version": NOTICE_VERSION}
        await write(a, "/consents", {**consent, "user_id": standing})
        for _ in range(rounds):
            # An access grant created: the standing user is allowed. Under it, a consent
            # granted and withdrawn. Then the grant revoked: the standing user is refused.
            made = await write(a, "/grants", window)
            times["access_grant.created"].append(
                await propagation(b, standing, True, time.monotonic())
            )
            user = f"bench-{uuid.uuid4().hex[:8]}"
            receipt = await write(a, "/consents", {**consent, "user_id": user})
            times["consent.granted"].append(await propagation(b, user, True, time.monotonic()))
            await write(a, f"/consents/{receipt['consent_id']}/withdraw", {})
            times["consent.withdrawn"].append(await propagation(b, user, False, time.monotonic()))
            await write(a, f"/grants/{made['grant_id']}/revoke", None)
            times["access_grant.revoked"].append(
                await propagation(b, standing, False, time.monotonic())
            )
    return times


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(rounds: int) -> None:
    schema = f"bench_consent_{uuid.uuid4().hex[:8]}"
    ports = free_port(), free_port()
    replicas: list[subprocess.Popen[bytes]] = []
    prefix = f"{schema}."  # topics of the run's own: no earlier run's registrations
    try:
        for name, port in zip("ab", ports, strict=True):
            env = {
                "CONSENT_DB_SCHEMA": schema,
                "CONSENT_HTTP_PORT": str(port),
                "CONSENT_TOPIC_PREFIX": prefix,
                "REPLICA_ID": f"{schema}-{name}",
                "LOG_LEVEL": "WARNING",
            }
            replicas.append(start_service("services.consent.main", port, env=env, timeout=120))
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        times = asyncio.run(measure(urls[0], urls[1], rounds))
    finally:
        for process in replicas:
            process.terminate()
        for process in replicas:
            process.wait(30)
        asyncio.run(_drop(schema))
        asyncio.run(drop_topics(prefix))
    everything = [t for values in times.values() for t in values]
    lines = [
        f"two replicas, {rounds} rounds of 4 changes on A, B polled every "
        f"{POLL_SECONDS * 1000:.0f} ms",
    ]
    for kind, values in [*times.items(), ("all", everything)]:
        ms = [v * 1000 for v in values]
        lines.append(
            f"{kind:22} n={len(ms):4}  p50 {statistics.median(ms):7.1f} ms  "
            f"p99 {quantile(ms, 0.99):7.1f} ms  max {max(ms):7.1f} ms"
        )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
