"""End-to-end audit ingestion against a raw pipeline, in the same run.

    .venv/bin/python -m bench.audit_ingest [EVENTS] [--unknown-consents]   # default 200,000

1. Raw pipeline (the baseline): EVENTS events on a topic of their own; aiokafka reads
   them in batches and COPYs each batch into a plain table with asyncpg. No parsing,
   no dedupe, no tree.
2. The audit service (its own process, fresh schema): the same number of
   ``data.accessed`` events, produced before it starts, read in batches, decoded and
   hashed, deduplicated, added to the Merkle tree and committed, offsets after the
   commit. The service reads them from a topic of the run's own (its ``TOPIC_PREFIX``
   is the run's, ``bench.<tag>.``), so neither earlier runs' events nor other users' count.
   Measured from its first batch's reading to its last entry seen committed, with the
   service process's CPU time (user + system, from ``/proc``) per entry.
3. Latency at half that rate: events published at half the measured throughput for
   10 s; publish-to-persist is when the entry was first seen committed (the log's reach
   is polled every 20 ms) minus the event's ``accessed_at`` (stamped just before
   sending).
Each of the 5,000 subjects consented first (a ``consent.granted`` on a topic of the run's
own, read by the service before the backlog's first check), as on the platform, where a
disclosure under consent follows its grant: the consent check after the fact judges
every entry. ``--unknown-consents`` leaves the grants out: every entry then names a
consent the service never hears of, and its check is put off (the worst case).
The run's topics are deleted at the end. Needs `make up`.
"""

import asyncio
import bisect
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from devtools.stack import DATABASE_URL, KAFKA, ROOT
from devtools.topics import drop_topics
from shared import events
from shared.db import asyncpg_dsn, create_engine
from shared.events import (
    ConsentChangedPayload,
    ConsentGranted,
    DataAccessed,
    DataAccessedPayload,
    Decision,
    Envelope,
    LegalBasis,
)
from shared.kafka import ensure_topics
from shared.producers import create_producer

SUBJECTS = 5000


def paced_entries(throughput: float) -> int:
    """Events published at half the rate: 10 s of them, at most 100,000."""
    return min(int(throughput / 2 * 10), 100_000)


def event(n: int) -> DataAccessed:
    subject = f"bench-subject-{n % SUBJECTS}"
    return DataAccessed.create(
        producer="bench",
        subject_id=subject,
        payload=DataAccessedPayload(
            organisation_id="ph-philexport",
            organisation_country="PH",
            actor="analyst",
            subject_id=subject,
            subject_country="PH",
            fields=["email_address"],
            purpose="member_organisation_sharing",
            legal_basis=LegalBasis.CONSENT,
            channel="bench",
            accessed_at=datetime.now(UTC),
            decision=Decision.ALLOW,
            consent_id=f"bench-consent-{n % SUBJECTS}",
            consent_version=1,
        ),
    )


def grant(n: int) -> ConsentGranted:
    subject = f"bench-subject-{n}"
    return ConsentGranted.create(
        producer="bench",
        subject_id=subject,
        payload=ConsentChangedPayload(
            consent_id=f"bench-consent-{n}",
            version=1,
            user_id=subject,
            purpose="member_organisation_sharing",
            organisation_id=None,
            country=None,
            data_categories=[],
            notice_version="2024-01-11",
            valid_from=datetime(2020, 1, 1, tzinfo=UTC),
            valid_until=None,
        ),
    )


async def produce(
    topic: str,
    count: int,
    rate: float | None = None,
    make: Callable[[int], Envelope] = event,
) -> None:
    """Publish ``make(0)`` to ``make(count - 1)``, at ``rate`` a second if given."""
    producer = create_producer(KAFKA, linger_ms=5)
    await producer.start()
    try:
        began = time.perf_counter()
        for n in range(count):
            e = make(n)
            await producer.send(topic, value=e.to_bytes(), key=e.subject_id.encode())
            if rate is not None:
                delay = began + (n + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
        await producer.flush()
    finally:
        await producer.stop()


async def raw_pipeline(count: int, topic: str) -> float:
    await ensure_topics(KAFKA, {topic: 3})
    await produce(topic, count)
    db = await asyncpg.connect(asyncpg_dsn(DATABASE_URL))
    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    # A schema of its own: the owner role may create schemas, not tables in public.
    await db.execute(f"CREATE SCHEMA {table}")
    await db.execute(f"CREATE TABLE {table}.raw (k text, v bytea, p int, o bigint)")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=KAFKA,
        group_id=table,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_poll_records=2000,
    )
    await consumer.start()
    done, began = 0, None
    try:
        while done < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            records = [r for rs in batches.values() for r in rs]
            if not records:
                continue
            began = began or time.perf_counter()
            async with db.transaction():
                await db.copy_records_to_table(
                    "raw",
                    schema_name=table,
                    records=[(r.key.decode(), r.value, r.partition, r.offset) for r in records],
                )
            await consumer.commit()
            done += len(records)
        assert began is not None
        return done / (time.perf_counter() - began)
    finally:
        await consumer.stop()
        await db.execute(f"DROP SCHEMA {table} CASCADE")
        await db.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` and its reaped children, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    throughput: float
    p50: float
    p99: float
    entries: int
    cpu_us_ingest: float
    """Service CPU time per entry while it read the backlog."""
    cpu_us_paced: float
    """Service CPU time per entry while events came at half the rate."""
    verdicts: dict[str, int]
    """The consent check's verdicts by kind when the run ended (the last seconds'
    entries are still in their grace), and ``put off`` for the checks waiting."""


async def audit_pipeline(count: int, prefix: str, granted: bool) -> Measured:
    topic = f"{prefix}{events.DATA_ACCESSED}"
    consents = f"{prefix}{events.CONSENT_GRANTED}" if granted else None
    await ensure_topics(KAFKA, {topic: 3, **({consents: 3} if consents else {})})
    if consents:
        await produce(consents, SUBJECTS, make=grant)
    await produce(topic, count)
    schema = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **os.environ,
        "AUDIT_DB_SCHEMA": schema,
        "AUDIT_TOPIC_PREFIX": prefix,
        "AUDIT_HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    server = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "services.audit.main"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    engine = create_engine(DATABASE_URL, schema, pool_size=1)
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(120):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.5)
        cpu_ready = cpu_seconds(server.pid)
        # Done when the count has not moved for 3 s.
        n, last_change, last_n = 0, time.perf_counter(), -1
        last_seen, cpu_seen = datetime.now(UTC), cpu_ready
        while time.perf_counter() - last_change < 3:
            async with engine.connect() as conn:
                n = int((await conn.execute(text("SELECT count(*) FROM entries"))).scalar_one())
            if n != last_n:
                last_n, last_change, last_seen = n, time.perf_counter(), datetime.now(UTC)
                cpu_seen = cpu_seconds(server.pid)
            await asyncio.sleep(0.2)
        assert n >= count, f"only {n} entries for {count} events"
        async with engine.connect() as conn:
            first = (await conn.execute(text("SELECT min(recorded_at) FROM entries"))).scalar_one()
        # From the first batch's reading (its entries' recorded_at) until the last entry
        # was seen committed (polled every 0.2 s), like the raw pipeline's first batch to
        # its last commit; the consumer's join and first fetch are left out of both.
        throughput = n / (last_seen - first).total_seconds()
        # Latency at half the rate, to the commit: a watcher notes every 20 ms how far
        # the committed log reaches, and an entry counts as persisted at the first note
        # that includes it.
        notes: list[tuple[int, datetime]] = []
        producing = True

        async def watch() -> None:
            async with engine.connect() as conn:
                while producing:
                    last = (await conn.execute(text("SELECT max(seq) FROM entries"))).scalar()
                    notes.append((-1 if last is None else int(last), datetime.now(UTC)))
                    await conn.commit()
                    await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        before = datetime.now(UTC)
        cpu_paced = cpu_seconds(server.pid)
        paced = paced_entries(throughput)
        await produce(topic, paced, rate=throughput / 2)
        await asyncio.sleep(3)
        cpu_paced = cpu_seconds(server.pid) - cpu_paced
        producing = False
        await watcher
        async with engine.connect() as conn:
            rows = list(
                await conn.execute(
                    text("SELECT seq, accessed_at FROM entries WHERE accessed_at >= :t"),
                    {"t": before},
                )
            )
        async with engine.connect() as conn:
            verdicts = {
                str(v): int(c)
                for v, c in await conn.execute(
                    text(
                        "SELECT verdict, count(*) FROM checks GROUP BY verdict UNION ALL "
                        "SELECT 'put off', count(*) FROM checks_deferred"
                    )
                )
            }
        reach = [seq for seq, _ in notes]
        assert rows and reach[-1] >= max(seq for seq, _ in rows), "the watcher stopped early"
        latencies = sorted(
            (notes[bisect.bisect_left(reach, seq)][1] - accessed_at).total_seconds() * 1000
            for seq, accessed_at in rows
        )
        return Measured(
            throughput=throughput,
            p50=latencies[len(latencies) // 2],
            p99=latencies[int(len(latencies) * 0.99) - 1],
            entries=n,
            cpu_us_ingest=(cpu_seen - cpu_ready) / n * 1e6,
            cpu_us_paced=cpu_paced / paced * 1e6,
            verdicts=verdicts,
        )
    finally:
        server.terminate()
        await asyncio.to_thread(server.wait)
        await engine.dispose()
        admin = create_engine(DATABASE_URL, "public", pool_size=1)
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def main(count: int, unknown_consents: bool) -> None:
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench.{tag}."  # every topic of the run's, the raw pipeline's too
    try:
        raw = await raw_pipeline(count, f"{prefix}raw")
        m = await audit_pipeline(count, prefix, granted=not unknown_consents)
    finally:
        await drop_topics(prefix)
    lines = [
        f"raw pipeline (aiokafka -> asyncpg COPY)   {raw:10,.0f} events/s",
        f"audit service ({m.entries:,} entries)     {m.throughput:10,.0f} events/s"
        f"   ratio {m.throughput / raw:.2f}",
        f"publish-to-persist at half that rate      p50 {m.p50:.0f} ms  p99 {m.p99:.0f} ms",
        f"service CPU per entry                     {m.cpu_us_ingest:.1f} us reading the "
        f"backlog, {m.cpu_us_paced:.1f} us at half the rate",
        "consents: "
        + ("never heard of (checks put off)" if unknown_consents else "granted first")
        + f"; of {m.entries + paced_entries(m.throughput):,} entries, checks: {m.verdicts}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    asyncio.run(main(int(numbers[0]) if numbers else 200_000, "--unknown-consents" in sys.argv))
