"""Outbox relay throughput against a raw producer, in the same run.

    .venv/bin/python -m bench.outbox_relay [EVENTS]

Baseline: an idempotent aiokafka producer sending the same serialized events
(no database, no transactions). Measured: events staged in PostgreSQL (one ORM row each
with ``stage``, in a scratch schema; in one statement per 1,000 with ``stage_many``), then
the relay publishing the latter in Kafka transactions and marking them published.
Needs `make up`.
"""

import asyncio
import sys
import time
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.probe import ProbeEvent, make_probe, probe_event
from devtools.stack import DATABASE_URL, KAFKA
from devtools.topics import drop_topics
from shared.db import create_engine, create_sessions, transaction
from shared.kafka import all_topics, ensure_topics
from shared.outbox import OUTBOX_DDL, stage, stage_many
from shared.producers import create_producer
from shared.relay import OutboxRelay, progress_topic


async def raw_producer(topic: str, payloads: list[tuple[bytes, bytes]]) -> float:
    producer = create_producer(KAFKA, linger_ms=2)
    await producer.start()
    try:
        # The topic is new: its first sends wait for leaders (NotLeaderForPartition), which
        # is no part of the producer's rate.
        await asyncio.gather(
            *[await producer.send(topic, value=v, key=k) for k, v in payloads[:50]]
        )
        started = time.perf_counter()
        futures = [await producer.send(topic, value=v, key=k) for k, v in payloads]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def outbox_schema(schema: str) -> AsyncEngine:
    engine = create_engine(DATABASE_URL, schema)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        for statement in OUTBOX_DDL:
            await conn.execute(text(statement))
    return engine


async def drop(engine: AsyncEngine, schema: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()


async def orm_staging(schema: str, events: list[ProbeEvent]) -> float:
    engine = await outbox_schema(schema)
    sessions = create_sessions(engine)
    started = time.perf_counter()
    for i in range(0, len(events), 1000):
        async with transaction(sessions) as session:
            stage(session, *events[i : i + 1000])
    staged = time.perf_counter() - started
    await drop(engine, schema)
    return staged


async def relay_run(schema: str, events: list[ProbeEvent]) -> tuple[float, float]:
    engine = await outbox_schema(schema)
    sessions = create_sessions(engine)
    started = time.perf_counter()
    for i in range(0, len(events), 1000):
        async with transaction(sessions) as session:
            await stage_many(session, events[i : i + 1000])
    staged = time.perf_counter() - started
    relay = OutboxRelay(schema=schema, database_url=DATABASE_URL, bootstrap_servers=KAFKA)
    await relay.connect()
    started = time.perf_counter()
    while await relay.publish_pending():
        pass
    published = time.perf_counter() - started
    await relay.stop()
    await drop(engine, schema)
    return staged, published


async def main(count: int) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    event_cls = probe_event(name)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    # Topics of the run's own (the probe's, the relay's progress), deleted at the end.
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema], names=[])})
    events = [make_probe(event_cls, n, subject=f"user-{n % 1000}") for n in range(count)]
    payloads = [(e.key(), e.to_bytes()) for e in events]
    try:
        raw = await raw_producer(event_cls.topic(), payloads)
        orm_staged = await orm_staging(f"{schema}_orm", events)
        staged, published = await relay_run(schema, events)
    finally:
        await drop_topics(f"test.{name}.")
        await drop_topics(progress_topic(schema))
    lines = [
        f"events: {count}",
        f"raw idempotent producer: {count / raw:,.0f} events/s",
        f"outbox staging, stage (1,000 per transaction): {count / orm_staged:,.0f} events/s",
        f"outbox staging, stage_many (1,000 per statement): {count / staged:,.0f} events/s",
        f"relay publish (Kafka transactions of 500): {count / published:,.0f} events/s",
        f"relay / raw: {raw / published:.2f}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000))
