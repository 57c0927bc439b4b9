"""Consumers: no duplicates across a crash, dead letters for what cannot be processed."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.app import create_broker
from shared.db import create_engine, create_sessions, migrate
from shared.events import dlq_topic
from shared.kafka import ensure_topics
from tests.support import (
    DATABASE_URL,
    KAFKA,
    ROOT,
    ProbeEvent,
    end_offsets,
    make_probe,
    probe_event,
    produce,
    read_topic,
    unique,
    wait_until,
)
from tests.support.probe_app import MIGRATIONS, add_probe_subscriber, probe_settings
from tests.support.run_consumer import CRASH_STATUS

pytestmark = pytest.mark.integration


@pytest.fixture
async def probe_schema(
    schema_factory: Callable[[str], str],
) -> tuple[str, AsyncEngine]:
    schema = schema_factory("consumer")
    engine = create_engine(DATABASE_URL, schema, pool_size=4)
    await migrate(engine, MIGRATIONS, schema)
    return schema, engine


async def rows(engine: AsyncEngine) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        result = await conn.execute(text("SELECT event_id::text, n FROM probe_rows ORDER BY id"))
        return [(r[0], r[1]) for r in result]


@pytest.mark.fault
async def test_consumer_killed_after_db_commit_does_not_write_twice(
    probe_schema: tuple[str, AsyncEngine], tmp_path: Path
) -> None:
    schema, engine = probe_schema
    name = unique("crash")
    event_cls = probe_event(name)
    await ensure_topics(KAFKA, {event_cls.topic(): 1})
    event = make_probe(event_cls, 7)
    await produce(event_cls.topic(), event.to_bytes())
    crash_flag, calls = tmp_path / "crash", tmp_path / "calls"
    crash_flag.touch()
    group = unique("group")

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.run_consumer",
                schema,
                name,
                group,
                str(crash_flag),
                str(calls),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    first = spawn()
    status = await asyncio.to_thread(first.wait, 60)
    assert status == CRASH_STATUS, "the consumer died right after its database commit"
    assert await rows(engine) == [(str(event.event_id), 7)]

    second = spawn()
    try:
        # The offset was never committed, so the message comes again...
        await wait_until(lambda: len(calls.read_text().split()) >= 2, 60, "redelivery")
        await asyncio.sleep(1.0)
    finally:
        second.terminate()
        await asyncio.to_thread(second.wait, 30)
    # ...and the inbox turns it away: still one row.
    assert calls.read_text().split() == [str(event.event_id)] * 2
    assert await rows(engine) == [(str(event.event_id), 7)]


async def test_malformed_messages_go_to_the_dlq_and_the_consumer_carries_on(
    probe_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = probe_schema
    event_cls = probe_event(unique("dlq"))
    topic = event_cls.topic()
    await ensure_topics(KAFKA, {topic: 1, dlq_topic(topic): 1})
    valid = make_probe(event_cls, 1)
    missing_payload_field = json.loads(make_probe(event_cls, 2).to_bytes())
    del missing_payload_field["payload"]["n"]
    await produce(
        topic,
        b"\x00 not json at all",
        json.dumps(missing_payload_field).encode(),
        valid.to_bytes(),
    )

    broker = create_broker(probe_settings(schema))
    sessions = create_sessions(engine)
    add_probe_subscriber(broker, event_cls, unique("group"), lambda: sessions)
    await broker.start()
    try:
        await wait_until(lambda: _has_rows(engine), 30, "the valid event to be applied")
    finally:
        await broker.stop()

    assert await rows(engine) == [(str(valid.event_id), 1)]
    dead = await read_topic(dlq_topic(topic), until=lambda r: len(r) >= 2, settle=0.5)
    assert [r.value for r in dead] == [
        b"\x00 not json at all",
        json.dumps(missing_payload_field).encode(),
    ]
    reasons = [dict(r.headers)["dlq-reason"].decode() for r in dead]
    assert reasons[0].startswith("invalid event")
    assert "payload.n: Field required" in reasons[1]
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq-original-topic"] == topic.encode()
        assert headers["dlq-original-offset"].isdigit()


async def test_an_event_without_event_id_is_dead_lettered_each_time_and_never_stored(
    probe_schema: tuple[str, AsyncEngine],
) -> None:
    """A producer that omits event_id gets no fresh id per delivery: nothing to dedupe on."""
    schema, engine = probe_schema
    event_cls = probe_event(unique("noid"))
    topic = event_cls.topic()
    await ensure_topics(KAFKA, {topic: 1, dlq_topic(topic): 1})
    without_id = json.loads(make_probe(event_cls, 3).to_bytes())
    del without_id["event_id"]
    raw = json.dumps(without_id).encode()
    valid = make_probe(event_cls, 4)
    await produce(topic, raw, raw, valid.to_bytes())  # the same message delivered twice

    broker = create_broker(probe_settings(schema))
    sessions = create_sessions(engine)
    add_probe_subscriber(broker, event_cls, unique("group"), lambda: sessions)
    await broker.start()
    try:
        await wait_until(lambda: _has_rows(engine), 30, "the valid event to be applied")
    finally:
        await broker.stop()

    assert await rows(engine) == [(str(valid.event_id), 4)]
    dead = await read_topic(dlq_topic(topic), until=lambda r: len(r) >= 2, settle=0.5)
    assert [r.value for r in dead] == [raw, raw]
    assert [dict(r.headers)["dlq-reason"].decode() for r in dead] == [
        "invalid event: event_id: Field required"
    ] * 2


async def _has_rows(engine: AsyncEngine) -> bool:
    return bool(await rows(engine))


async def test_transient_failures_are_retried_until_the_event_is_applied_once(
    probe_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = probe_schema
    event_cls = probe_event(unique("transient"))
    topic = event_cls.topic()
    await ensure_topics(KAFKA, {topic: 1, dlq_topic(topic): 1})
    event = make_probe(event_cls, 21)
    await produce(topic, event.to_bytes())
    attempts: list[int] = []

    async def database_away_twice(delivered: ProbeEvent) -> None:
        attempts.append(delivered.payload.n)
        if len(attempts) <= 2:
            raise ConnectionRefusedError(111, "the database is away")

    broker = create_broker(probe_settings(schema))
    sessions = create_sessions(engine)
    add_probe_subscriber(
        broker, event_cls, unique("group"), lambda: sessions, on_delivery=database_away_twice
    )
    await broker.start()
    try:
        await wait_until(lambda: _has_rows(engine), 30, "the event, once the database is back")
    finally:
        await broker.stop()

    assert attempts == [21, 21, 21]
    assert await rows(engine) == [(str(event.event_id), 21)]
    assert sum((await end_offsets(dlq_topic(topic))).values()) == 0


async def test_handler_that_keeps_failing_is_dead_lettered_after_five_attempts(
    probe_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = probe_schema
    event_cls = probe_event(unique("poison"))
    topic = event_cls.topic()
    await ensure_topics(KAFKA, {topic: 1, dlq_topic(topic): 1})
    poison, valid = make_probe(event_cls, 13), make_probe(event_cls, 14)
    await produce(topic, poison.to_bytes(), valid.to_bytes())
    attempts: list[int] = []

    async def fail_on_13(event: ProbeEvent) -> None:
        if event.payload.n == 13:
            attempts.append(event.payload.n)
            raise RuntimeError("this handler cannot cope with 13")

    broker = create_broker(probe_settings(schema))
    sessions = create_sessions(engine)
    add_probe_subscriber(
        broker, event_cls, unique("group"), lambda: sessions, on_delivery=fail_on_13
    )
    await broker.start()
    try:
        await wait_until(lambda: _has_rows(engine), 60, "the event after the poison one")
    finally:
        await broker.stop()

    assert len(attempts) == 5
    assert await rows(engine) == [(str(valid.event_id), 14)]
    dead = await read_topic(dlq_topic(topic), until=lambda r: len(r) >= 1, settle=0.5)
    assert [r.value for r in dead] == [poison.to_bytes()]
    headers = dict(dead[0].headers)
    assert headers["dlq-reason"].decode() == (
        "failed 5 times: RuntimeError: this handler cannot cope with 13"
    )
    assert b"RuntimeError" in headers["dlq-traceback"]
