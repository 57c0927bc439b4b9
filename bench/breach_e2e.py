"""A breach of 100,000 people, from declaration to every notice accepted by a local SMTP
server, against the raw rate of sending the same number of messages straight to that
server, in the same run.

    .venv/bin/python -m bench.breach_e2e [PEOPLE] [--sessions N]

Needs `make up` (Kafka, PostgreSQL) and the notifier service. The run starts:

- an SMTP server (aiosmtpd) in a process of its own, counting the messages it accepts
  for this run's recipients (other runs' notices on the shared topics are not counted);
- the raw baseline: PEOPLE messages of the notice's size sent straight to that server
  over ``--sessions`` reused aiosmtplib sessions, with no database and no broker;
- the notifier and the breach service, each a process of its own in fresh schemas;
  PEOPLE ``user.registered`` events (the notifier's contacts), then one declaration
  naming all of them. Timed: from the POST to the last notice accepted by the server,
  then to the breach service counting every one of them notified.

Goals (issue 13): under 3 minutes, and at least 0.60 of the raw rate.
"""

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import aiosmtplib
import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from shared.auth import Role, mint_token
from shared.db import create_engine
from shared.events import UserRegistered, UserRegisteredPayload
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.support import DATABASE_URL, KAFKA, ROOT

BODY = "We are writing to tell you about a personal data breach that involved your data. " * 24


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sink(port: int, domain: str, counter: "Synchronized[int]", ready: Any) -> None:
    """The SMTP server: accept everything, count this run's recipients."""
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mine = sum(1 for r in envelope.rcpt_tos if r.endswith(domain))
            if mine:
                with counter.get_lock():
                    counter.value += mine
            return "250 2.0.0 Ok: queued"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def message(n: int, domain: str) -> EmailMessage:
    """A message of the size of a breach notice (plain text and HTML)."""
    msg = EmailMessage()
    msg["From"] = "Privacy Notices <notices@privacy-events.local>"
    msg["To"] = f"raw-{n}{domain}"
    msg["Subject"] = "Important: a personal data breach involving your data (BR-2026-0001)"
    msg["Message-ID"] = f"<raw.{n}.{uuid.uuid4().hex}@notices.privacy-events.local>"
    msg.set_content(BODY)
    msg.add_alternative(f"<html><body><p>{BODY}</p></body></html>", subtype="html")
    return msg


async def raw_rate(port: int, domain: str, count: int, sessions: int) -> float:
    """Seconds to send ``count`` messages straight to the server over reused sessions."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        try:
            while not queue.empty():
                await client.send_message(message(queue.get_nowait(), domain))
        finally:
            await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(sessions)))
    return time.perf_counter() - started


@contextlib.contextmanager
def service(module: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A service as a process of its own; stopped when the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def until(what: str, check: Any, limit: float, every: float = 0.2) -> float:
    """Poll ``check`` until it is true; the time it took."""
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > limit:
            raise TimeoutError(f"{what}: not after {limit:.0f} s")
        await asyncio.sleep(every)
    return time.perf_counter() - started


async def register(user_ids: list[str], domain: str) -> None:
    """The people's registrations, as the registry publishes them."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for user_id in user_ids:
            event = UserRegistered.create(
                producer="registry",
                subject_id=user_id,
                payload=UserRegisteredPayload(
                    user_id=user_id,
                    full_name="Bench Person",
                    email=f"{user_id}{domain}",
                    country="PH",
                ),
            )
            await producer.send(event.topic(), value=event.to_bytes(), key=user_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def contacts_known(schema: str, domain: str) -> int:
    """How many of this run's people the notifier has an address for."""
    engine = create_engine(DATABASE_URL, schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            query = text("SELECT count(*) FROM contacts WHERE email LIKE :d")
            return int((await conn.execute(query, {"d": f"%{domain}"})).scalar_one())
    except Exception:
        return 0  # not migrated yet
    finally:
        await engine.dispose()


async def main(people: int, sessions: int) -> None:
    run = uuid.uuid4().hex[:8]
    domain = f"@bench-{run}.example"
    smtp_port, breach_port, notifier_port = free_port(), free_port(), free_port()
    counter: Synchronized[int] = multiprocessing.Value("q", 0)
    ready = multiprocessing.Event()
    server = multiprocessing.Process(
        target=sink, args=(smtp_port, domain, counter, ready), daemon=True
    )
    server.start()
    ready.wait(10)

    raw = await raw_rate(smtp_port, domain, people, sessions)
    with counter.get_lock():
        counter.value = 0

    breach_schema, notifier_schema = f"bench_breach_{run}", f"bench_notifier_{run}"
    user_ids = [f"bench-{run}-{n:06d}" for n in range(people)]
    notifier_env = {
        "NOTIFIER_DB_SCHEMA": notifier_schema,
        "NOTIFIER_HTTP_PORT": str(notifier_port),
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "NOTIFIER_SMTP_SESSIONS": str(sessions),
        "NOTIFIER_SMTP_RATE_PER_SECOND": "0",
        "NOTIFIER_LOG_LEVEL": "warning",
        # The run's contacts are all known before the declaration; without this, requests
        # left on the shared topic by earlier runs and tests (people it has no address
        # for) would each hold the notifier for the grace period.
        "NOTIFIER_NO_CONTACT_GRACE_SECONDS": "0",
    }
    breach_env = {
        "BREACH_DB_SCHEMA": breach_schema,
        "BREACH_HTTP_PORT": str(breach_port),
        "BREACH_RESOLVE_SECONDS": "0.2",
        "BREACH_LOG_LEVEL": "warning",
    }
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=Role.SECURITY, sub="bench")
    headers = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{breach_port}"
    try:
        with (
            service("services.notifier.main", notifier_env),
            service("services.breach.main", breach_env),
        ):
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:

                async def up() -> bool:
                    for port in (breach_port, notifier_port):
                        with contextlib.suppress(httpx.HTTPError):
                            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
                            if ready.status_code == 200:
                                continue
                        return False
                    return True

                await until("the breach service and the notifier to start", up, 120)
                # Warm up: consumer groups joined, producers' transactions initialised, so
                # the timed run measures a running system, not its start.
                warm = f"bench-{run}-warm-up"
                await register([warm], domain)
                await until(
                    "the warm-up contact",
                    lambda: _at_least(contacts_known(notifier_schema, domain), 1),
                    120,
                )
                warm_up = await http.post(
                    "/breaches",
                    json=declaration([warm], title="Benchmark warm-up"),
                    headers=headers,
                )
                warm_up.raise_for_status()

                async def warmed() -> bool:
                    return bool(counter.value >= 1)

                await until("the warm-up notice", warmed, 300)
                with counter.get_lock():
                    counter.value = 0
                await register(user_ids, domain)
                contacts = await until(
                    "the notifier's contacts",
                    lambda: _at_least(contacts_known(notifier_schema, domain), people + 1),
                    600,
                    every=1.0,
                )
                body = declaration(user_ids, title="Benchmark breach")
                started = time.perf_counter()
                declared = await http.post("/breaches", json=body, headers=headers)
                declared.raise_for_status()
                breach_id = declared.json()["breach_id"]

                async def resolved() -> bool:
                    found = (await http.get(f"/breaches/{breach_id}", headers=headers)).json()
                    return bool(found["scopes_resolving"] == 0)

                async def first_accepted() -> bool:
                    return bool(counter.value > 0)

                async def all_accepted() -> bool:
                    return bool(counter.value >= people)

                await until("everyone resolved", resolved, 900, every=0.1)
                requested = time.perf_counter() - started
                await until("a first notice accepted", first_accepted, 900, every=0.05)
                first = time.perf_counter() - started
                await until("every notice accepted", all_accepted, 900, every=0.05)
                accepted = time.perf_counter() - started

                async def all_counted() -> bool:
                    counts = (await http.get(f"/breaches/{breach_id}", headers=headers)).json()
                    return bool(counts["counts"]["notified"] >= people)

                await until("the breach to count everyone", all_counted, 900, every=0.5)
                counted = time.perf_counter() - started
    finally:
        server.terminate()
        admin = create_engine(DATABASE_URL, "public", pool_size=1)
        async with admin.begin() as conn:
            for schema in (breach_schema, notifier_schema):
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()

    raw_rate_s, e2e_rate = people / raw, people / accepted
    lines = [
        f"people: {people:,}; SMTP sessions: {sessions}",
        f"raw SMTP (same server, same sessions): {raw_rate_s:,.0f} messages/s ({raw:.1f} s)",
        f"contacts known to the notifier after {contacts:.1f} s",
        f"declaration -> every request staged: {requested:.1f} s; "
        f"-> the first notice accepted: {first:.1f} s",
        f"declaration -> every notice accepted: {accepted:.1f} s ({e2e_rate:,.0f} notices/s)",
        f"declaration -> the breach counts everyone notified: {counted:.1f} s",
        f"end-to-end / raw: {e2e_rate / raw_rate_s:.2f} (goal >= 0.60); "
        f"under 3 minutes: {'yes' if accepted < 180 else 'no'}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def declaration(user_ids: list[str], *, title: str) -> dict[str, Any]:
    """A declaration naming ``user_ids``."""
    now = datetime.now(UTC)
    return {
        "title": title,
        "what_happened": "A benchmark of the notice path.",
        "kinds": ["confidentiality"],
        "detected_at": (now - timedelta(minutes=5)).isoformat(),
        "data_categories": ["email_address"],
        "likely_consequences": "None: this is a benchmark.",
        "measures_taken": "None needed.",
        "what_you_can_do": "Nothing.",
        "contact_point": "bench@example.org",
        "scope": [{"kind": "users", "user_ids": user_ids}],
    }


async def _at_least(count: Any, wanted: int) -> bool:
    return bool(await count >= wanted)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("people", nargs="?", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.people, args.sessions))
