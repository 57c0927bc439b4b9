"""A breach of 100,000 affected people, end to end, against the raw rate of sending the same
number of messages straight to the same SMTP server, in the same run.

    .venv/bin/python -m bench.breach_e2e [PEOPLE] [--sessions N] [--page N] [--raw N] [--limit S]
                                         [--outage-seconds N]

Needs `make up` (Kafka, PostgreSQL); starts everything else itself:

- an SMTP server (aiosmtpd) in a process of its own, counting the messages it accepts for
  this run's recipients;
- the raw baseline: PEOPLE messages of a notice's size sent straight to that server over
  ``--sessions`` reused aiosmtplib sessions, with no database and no broker (``--raw N``
  sends N instead, for a rate from a sample when the machine is too loaded for both);
- set-up, untimed but bulk: PEOPLE disclosures of ``email_address`` to one organisation in
  a window, plus decoys the scope must not find (another category, outside the window),
  written into a fresh audit schema through the audit log's own append path (Merkle
  leaves and nodes, as ``bench/audit_scale.py`` does); PEOPLE ``user.registered`` events
  on the run's own topics (``<prefix>user.registered.v1``), as the registry publishes them;
- the audit service, the notifier and the breach service, each a process of its own in
  fresh schemas, on topics of the run's own (their ``*_TOPIC_PREFIX``; deleted at the
  end). Timed from the declaration (an organisation scope narrowed to
  ``email_address``): every request staged (the scope resolved page by page from the audit
  service), the first and the last notice accepted by the server, and the breach counting
  everyone notified; each stage's own time from the outboxes' timestamps.

``--outage-seconds N`` stops the SMTP server (SIGTERM) once half the notices are accepted,
starts it again N seconds later, and reports what the outage cost: the time past the
finish the rate before the outage promised, and how long after the restart the first
notice was accepted again (issue 21).

Goals (issue 13): under 3 minutes, and at least 0.60 of the raw rate.
"""

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import aiosmtplib
import httpx
from sqlalchemy import text

from devtools.stack import DATABASE_URL, KAFKA, ROOT
from devtools.topics import drop_topics
from services.audit import ingestion, pgcopy, repository
from services.audit.domain import Entry, personal_digest
from services.audit.main import MIGRATIONS as AUDIT_MIGRATIONS
from shared import events
from shared.auth import Role, mint_token
from shared.db import connect_raw, create_engine, migrate
from shared.events import UserRegistered, UserRegisteredPayload
from shared.producers import create_producer
from shared.settings import DEVELOPMENT_JWT_SECRET

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


def disclosures(run: str, org: str, people: int, since: datetime) -> list[Entry]:
    """What the audit log holds for the run: each person's email address sent to ``org`` in
    the window, and decoys the scope must not find (a tenth each: only a phone number in
    the window; an email address after it)."""
    digest = personal_digest(b"bench-salt-00000", "PH")
    rng = random.Random(run)

    def entry(subject: str, fields: tuple[str, ...], at: datetime) -> Entry:
        return Entry(
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            producer="registry",
            accessed_at=at,
            recorded_at=at + timedelta(milliseconds=1),
            organisation_id=org,
            organisation_country="PH",
            actor=f"analyst@{org}",
            subject_id=subject,
            fields=fields,
            purpose="member_organisation_sharing",
            legal_basis="consent",
            legal_reference=None,
            channel="registry_api",
            decision="allow",
            decision_reason="consent and access grant in force",
            consent_id=f"consent-{subject}",
            consent_version=1,
            grant_id="grant-1",
            personal_digest=digest,
        )

    step = timedelta(hours=12) / people
    out = [
        entry(person(run, n), ("email_address", "full_name"), since + step * n)
        for n in range(people)
    ]
    decoys = max(1, people // 10)
    out += [entry(f"{run}-phoned-{n}", ("phone_number",), since + step * n) for n in range(decoys)]
    late = since + timedelta(days=1, hours=1)
    out += [entry(f"{run}-late-{n}", ("email_address",), late) for n in range(decoys)]
    return sorted(out, key=lambda e: e.accessed_at)


def person(run: str, n: int) -> str:
    return f"bench-{run}-{n:06d}"


async def fill_audit(schema: str, entries: list[Entry]) -> None:
    """Write the disclosures into a fresh audit schema through the log's own append path."""
    from services.audit import merkle

    engine = create_engine(DATABASE_URL, schema, pool_size=1)
    try:
        await migrate(engine, AUDIT_MIGRATIONS, schema)
    finally:
        await engine.dispose()
    audit_log = ingestion.AuditLog()
    conn = await connect_raw(DATABASE_URL, schema)
    personal = pgcopy.personal_row(b"bench-salt-00000", "PH")
    try:
        for first in range(0, len(entries), 50_000):
            batch = entries[first : first + 50_000]
            leaves = [merkle.leaf_hash(e.leaf()) for e in batch]
            rows = [pgcopy.entry_row(e, leaf) for e, leaf in zip(batch, leaves, strict=True)]
            grown, nodes = ingestion.grow(audit_log.frontier, leaves)
            # Not repository.appending(): its advisory lock is one for the whole database,
            # so it would wait for every other audit schema's writer on the shared machine;
            # nothing else writes this fresh schema yet.
            async with conn.transaction():
                await repository.append(conn, audit_log.size, rows, [personal] * len(rows), nodes)
            audit_log.frontier = grown
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


ASEAN = ("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN")
"""The people are spread over the ten ASEAN countries (issue 24): their regimes' obligations
are derived as each page resolves, and each notice carries its regime's deadline."""


async def register(topic: str, user_ids: list[str], domain: str) -> None:
    """The people's registrations, as the registry publishes them, one country after the
    other of the ten."""
    producer = create_producer(KAFKA, linger_ms=20)
    await producer.start()
    try:
        for i, user_id in enumerate(user_ids):
            event = UserRegistered.create(
                producer="registry",
                subject_id=user_id,
                payload=UserRegisteredPayload(
                    user_id=user_id,
                    full_name="Bench Person",
                    email=f"{user_id}{domain}",
                    country=ASEAN[i % len(ASEAN)],
                ),
            )
            await producer.send(topic, value=event.to_bytes(), key=user_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def count(schema: str, query: str, **params: Any) -> int:
    """One number from a service's schema; 0 while it is not migrated yet."""
    engine = create_engine(DATABASE_URL, schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(query), params)).scalar_one() or 0)
    except Exception:
        return 0
    finally:
        await engine.dispose()


async def at_least(schema: str, query: str, wanted: int, **params: Any) -> bool:
    return await count(schema, query, **params) >= wanted


async def watch(
    http: httpx.AsyncClient,
    breach_id: str,
    headers: dict[str, str],
    counter: "Synchronized[int]",
    people: int,
    started: float,
    limit: float,
) -> dict[str, float]:
    """Seconds from the declaration to each milestone, all watched at once, for at most
    ``limit`` seconds (then ``accepted_by_limit`` says how far the server got)."""
    marks: dict[str, float] = {}
    scopes_at = counts_at = 0.0
    while "counted" not in marks:
        now = time.perf_counter()
        accepted = counter.value
        if now - started > limit:
            marks["accepted_by_limit"] = accepted
            break
        if accepted > 0:
            marks.setdefault("first", now - started)
        if accepted >= people:
            marks.setdefault("accepted", now - started)
        if "staged" not in marks and now - scopes_at >= 0.25:
            scopes_at = now
            scopes = (await http.get(f"/breaches/{breach_id}/scopes", headers=headers)).json()
            if all(s["done"] for s in scopes):
                marks["staged"] = time.perf_counter() - started
        if "accepted" in marks and now - counts_at >= 0.5:
            counts_at = now
            found = (await http.get(f"/breaches/{breach_id}", headers=headers)).json()
            if found["counts"]["notified"] >= people:
                marks["counted"] = time.perf_counter() - started
        await asyncio.sleep(0.05)
    return marks


async def stages(
    breach_schema: str, notifier_schema: str, prefix: str, declared: datetime
) -> dict[str, float]:
    """When each stage finished, in seconds after the declaration, from the outboxes."""
    engine = create_engine(DATABASE_URL, "public", pool_size=1)
    requested = f"{prefix}{events.BREACH_NOTIFICATION_REQUESTED}"
    delivered = f"{prefix}{events.NOTIFICATION_DELIVERED}"
    queries = {
        "breach relay: last request published": (
            f'SELECT max(published_at) FROM "{breach_schema}".outbox WHERE topic = :t',
            requested,
        ),
        "notifier relay: last outcome published": (
            f'SELECT max(published_at) FROM "{notifier_schema}".outbox WHERE topic = :t',
            delivered,
        ),
        "breach: last outcome recorded": (
            f'SELECT max(received_at) FROM "{breach_schema}".outcomes WHERE :t = :t',
            "",
        ),
    }
    out = {}
    try:
        async with engine.connect() as conn:
            for label, (query, topic) in queries.items():
                at = (await conn.execute(text(query), {"t": topic})).scalar_one()
                if at is not None:
                    out[label] = (at - declared).total_seconds()
    finally:
        await engine.dispose()
    return out


def load() -> str:
    return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1/5/15 min)"


async def outage(
    seconds: float,
    at: int,
    counter: "Synchronized[int]",
    started: float,
    stop: Callable[[], None],
    start: Callable[[], None],
) -> dict[str, float]:
    """Stop the SMTP server once ``at`` notices are accepted, for ``seconds``; when each
    step happened, in seconds after the declaration."""
    await until("half the notices accepted", _above(counter, at - 1), 3600, every=0.05)
    marks = {"outage_accepted": float(counter.value)}
    marks["outage_stopped"] = time.perf_counter() - started
    await asyncio.to_thread(stop)
    await asyncio.sleep(seconds)
    await asyncio.to_thread(start)
    marks["outage_restarted"] = time.perf_counter() - started
    marks["outage_accepted_at_restart"] = float(counter.value)
    await until("a notice accepted again", _above(counter, counter.value), 3600, every=0.05)
    marks["outage_resumed"] = time.perf_counter() - started
    return marks


async def main(
    people: int,
    sessions: int,
    page: int,
    raw_count: int,
    limit: float,
    outage_seconds: float = 0.0,
) -> None:
    run = uuid.uuid4().hex[:8]
    domain, org, prefix = f"@bench-{run}.example", f"bench-org-{run}", f"bench-{run}."
    ports = {name: free_port() for name in ("smtp", "audit", "breach", "notifier")}
    load_at_start = load()
    counter: Synchronized[int] = multiprocessing.Value("q", 0)
    servers: list[multiprocessing.Process] = []

    def start_server() -> None:
        ready = multiprocessing.Event()
        server = multiprocessing.Process(
            target=sink, args=(ports["smtp"], domain, counter, ready), daemon=True
        )
        server.start()
        ready.wait(10)
        servers.append(server)

    def stop_server() -> None:
        for server in servers:
            server.terminate()
            server.join(10)
        servers.clear()

    start_server()

    raw = await raw_rate(ports["smtp"], domain, raw_count, sessions)
    with counter.get_lock():
        counter.value = 0

    schemas = {name: f"bench_{name}_{run}" for name in ("audit", "breach", "notifier")}
    user_ids = [person(run, n) for n in range(people)]
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    window_end = since + timedelta(days=1)
    began = time.perf_counter()
    await fill_audit(schemas["audit"], disclosures(run, org, people, since))
    filled = time.perf_counter() - began
    envs = {
        "services.audit.main": {
            "AUDIT_DB_SCHEMA": schemas["audit"],
            "AUDIT_HTTP_PORT": str(ports["audit"]),
            "AUDIT_TOPIC_PREFIX": prefix,
            "AUDIT_LOG_LEVEL": "warning",
        },
        "services.notifier.main": {
            "NOTIFIER_DB_SCHEMA": schemas["notifier"],
            "NOTIFIER_HTTP_PORT": str(ports["notifier"]),
            "NOTIFIER_TOPIC_PREFIX": prefix,
            "NOTIFIER_SMTP_PORT": str(ports["smtp"]),
            "NOTIFIER_SMTP_SESSIONS": str(sessions),
            "NOTIFIER_SMTP_RATE_PER_SECOND": "0",
            "NOTIFIER_LOG_LEVEL": "warning",
        },
        "services.breach.main": {
            "BREACH_DB_SCHEMA": schemas["breach"],
            "BREACH_HTTP_PORT": str(ports["breach"]),
            "BREACH_TOPIC_PREFIX": prefix,
            "BREACH_AUDIT_URL": f"http://127.0.0.1:{ports['audit']}",
            "BREACH_RESOLVE_SECONDS": "0.2",
            "BREACH_RESOLVE_PAGE_SIZE": str(page),
            "BREACH_LOG_LEVEL": "warning",
        },
    }
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=Role.SECURITY, sub="bench")
    headers = {"Authorization": f"Bearer {token}"}
    registered = f"{prefix}{events.USER_REGISTERED}"
    contacts = "SELECT count(*) FROM contacts WHERE email LIKE :d"
    subjects = "SELECT count(*) FROM subjects WHERE user_id LIKE :p"
    try:
        with contextlib.ExitStack() as running:
            for module, env in envs.items():
                running.enter_context(service(module, env))
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{ports['breach']}", timeout=60
            ) as http:

                async def up() -> bool:
                    for name in ("audit", "breach", "notifier"):
                        with contextlib.suppress(httpx.HTTPError):
                            answer = await http.get(f"http://127.0.0.1:{ports[name]}/readyz")
                            if answer.status_code == 200:
                                continue
                        return False
                    return True

                await until("the services to start", up, 120)
                # Warm up: consumer groups joined, producers' transactions initialised, so
                # the timed run measures a running system, not its start.
                warm = f"bench-{run}-warm-up"
                await register(registered, [warm], domain)
                await until(
                    "the warm-up contact",
                    lambda: at_least(schemas["notifier"], contacts, 1, d=f"%{domain}"),
                    120,
                )
                body = declaration([{"kind": "users", "user_ids": [warm]}], "Benchmark warm-up")
                (await http.post("/breaches", json=body, headers=headers)).raise_for_status()
                await until("the warm-up notice", _above(counter, 0), 300)
                with counter.get_lock():
                    counter.value = 0
                began = time.perf_counter()
                await register(registered, user_ids, domain)
                known = await until(
                    "the notifier's contacts and the breach service's subjects",
                    lambda: _both(
                        at_least(schemas["notifier"], contacts, people + 1, d=f"%{domain}"),
                        at_least(schemas["breach"], subjects, people + 1, p=f"bench-{run}-%"),
                    ),
                    600,
                    every=1.0,
                )
                load_before = load()
                scope = {
                    "kind": "organisation",
                    "organisation": org,
                    "since": since.isoformat(),
                    "until": window_end.isoformat(),
                    "data_categories": ["email_address"],
                }
                declared_at = datetime.now(UTC)
                started = time.perf_counter()
                declared = await http.post(
                    "/breaches", json=declaration([scope], "Benchmark breach"), headers=headers
                )
                declared.raise_for_status()
                breach_id = declared.json()["breach_id"]
                cut = (
                    asyncio.create_task(
                        outage(
                            outage_seconds, people // 2, counter, started, stop_server, start_server
                        )
                    )
                    if outage_seconds
                    else None
                )
                marks = await watch(http, breach_id, headers, counter, people, started, limit)
                if cut is not None:
                    marks.update(await cut)
                load_after = load()
                found = (await http.get(f"/breaches/{breach_id}", headers=headers)).json()
                by_stage = await stages(schemas["breach"], schemas["notifier"], prefix, declared_at)
    finally:
        stop_server()
        admin = create_engine(DATABASE_URL, "public", pool_size=1)
        async with admin.begin() as conn:
            for schema in schemas.values():
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()
        await drop_topics(prefix)

    raw_rate_s = raw_count / raw
    exact = found["counts"]["affected"] == people

    def at(mark: str) -> str:
        return f"{marks[mark]:.1f} s" if mark in marks else f"not within {limit:.0f} s"

    lines = [
        f"people: {people:,}; SMTP sessions: {sessions}; resolution page: {page:,}",
        f"machine at the start: {load_at_start}; before the declaration: {load_before}; "
        f"after: {load_after}",
        f"raw SMTP (same server, same sessions): {raw_rate_s:,.0f} messages/s "
        f"({raw_count:,} in {raw:.1f} s)",
        f"set-up: {people + 2 * max(1, people // 10):,} disclosures in the audit log "
        f"in {filled:.1f} s; {people:,} registrations known to the notifier and the "
        f"breach service {known:.1f} s after the first was sent",
        f"declaration -> every request staged: {at('staged')} "
        f"({found['counts']['affected']:,} people found, "
        f"exactly the audit log's: {'yes' if exact else 'NO'})",
        *(f"  {label}: {seconds:.1f} s" for label, seconds in by_stage.items()),
        f"declaration -> the first notice accepted: {at('first')}",
        f"declaration -> every notice accepted: {at('accepted')}",
        f"declaration -> the breach counts everyone notified: {at('counted')}",
    ]
    if "outage_stopped" in marks:
        stopped, restarted = marks["outage_stopped"], marks["outage_restarted"]
        half = marks["outage_accepted"]
        before_rate = half / max(stopped - marks.get("first", 0.0), 1e-9)
        lines.append(
            f"outage: the SMTP server stopped at {stopped:.1f} s ({half:,.0f} accepted, "
            f"{before_rate:,.0f}/s since the first), started again at {restarted:.1f} s "
            f"({restarted - stopped:.1f} s down); the first notice accepted again "
            f"{marks['outage_resumed'] - restarted:.1f} s after the restart"
        )
        if "accepted" in marks:
            resumed = marks["outage_resumed"]
            after_rate = (people - marks["outage_accepted_at_restart"]) / max(
                marks["accepted"] - resumed, 1e-9
            )
            lines.append(
                f"outage: sending stopped for {resumed - stopped:.1f} s (down, then until the "
                f"first acceptance); {before_rate:,.0f}/s before the stop, {after_rate:,.0f}/s "
                "after the restart (the machine's load moves both)"
            )
            promised = stopped + (people - half) / before_rate
            cost = marks["accepted"] - promised
            lines.append(
                f"outage cost: every notice accepted at {marks['accepted']:.1f} s, "
                f"{cost:.1f} s later than the rate before the outage promised "
                f"({cost - (restarted - stopped):.1f} s beyond the outage itself); "
                f"messages the server took, duplicates included: {counter.value:,} "
                f"for {people:,} people"
            )
    if "accepted" in marks:
        e2e_rate = people / marks["accepted"]
        lines.append(
            f"end-to-end: {e2e_rate:,.0f} notices/s; / raw: {e2e_rate / raw_rate_s:.2f} "
            f"(goal >= 0.60); under 3 minutes: {'yes' if marks['accepted'] < 180 else 'no'}"
        )
    else:
        by_limit = int(marks["accepted_by_limit"])
        lines.append(
            f"given up after {limit:.0f} s with {by_limit:,} notices accepted "
            f"({by_limit / limit:,.0f}/s; / raw: {by_limit / limit / raw_rate_s:.2f}); "
            f"the breach counted {found['counts']['notified']:,} notified"
        )
    sys.stdout.write("\n".join(lines) + "\n")


def declaration(scope: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """A declaration with ``scope``."""
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
        "scope": scope,
    }


def _above(counter: "Synchronized[int]", n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(counter.value > n)

    return check


async def _both(a: Awaitable[bool], b: Awaitable[bool]) -> bool:
    return all(await asyncio.gather(a, b))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("people", nargs="?", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--page", type=int, default=5000, help="people per resolution page")
    parser.add_argument("--raw", type=int, help="messages of the raw baseline (PEOPLE)")
    parser.add_argument("--limit", type=float, default=1800, help="seconds to wait, at most")
    parser.add_argument(
        "--outage-seconds",
        type=float,
        default=0.0,
        help="stop the SMTP server for this long once half the notices are accepted",
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.people,
            args.sessions,
            args.page,
            args.raw or args.people,
            args.limit,
            args.outage_seconds,
        )
    )
