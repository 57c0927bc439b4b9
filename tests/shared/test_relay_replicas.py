"""Two relays on one schema (two replicas of a service): one publishes, the other takes over."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_sessions, transaction
from shared.kafka import all_topics, ensure_topics
from shared.outbox import stage, stage_many
from shared.relay import OutboxRelay, RelayStandby
from tests.support import (
    DATABASE_URL,
    KAFKA,
    ROOT,
    event_ids,
    make_probe,
    probe_event,
    read_topic,
    unique,
    wait_until,
)

pytestmark = pytest.mark.integration

# The process holding the schema's relay lock, by the application name each relay gives
# its connection ("outbox-relay:<pid>@<host>").
HOLDER = text(
    """
    SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.classid::bigint = (hashtextextended('outbox-relay.' || :schema, 0) >> 32) & 4294967295
      AND l.objid::bigint = hashtextextended('outbox-relay.' || :schema, 0) & 4294967295
    """
)


async def holder_pids(engine: AsyncEngine, schema: str) -> list[int]:
    async with engine.connect() as conn:
        names = (await conn.execute(HOLDER, {"schema": schema})).scalars()
        return [int(str(name).removeprefix("outbox-relay:").split("@")[0]) for name in names]


async def published(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = text("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
        return int((await conn.execute(query)).scalar_one())


def spawn(schema: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.run_relay", schema, "50"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_events_staged_in_bulk_are_published_once_in_staging_order(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("bulk"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    first, *rest = [make_probe(event_cls, n, subject=f"user-{n % 7}") for n in range(700)]
    async with transaction(create_sessions(engine)) as session:
        stage(session, first)  # an ORM row the session holds: it must keep its place
        await stage_many(session, rest)

    relay = OutboxRelay(
        schema=schema, database_url=DATABASE_URL, bootstrap_servers=KAFKA, poll_seconds=0.2
    )
    await relay.start()
    try:
        records = await read_topic(event_cls.topic(), until=lambda r: len(r) >= 700, settle=1.0)
    finally:
        await relay.stop()
    assert sorted(event_ids(records)) == sorted(str(e.event_id) for e in [first, *rest])
    by_subject: dict[bytes, list[int]] = {}
    for record in records:
        assert record.value is not None and record.key is not None
        by_subject.setdefault(record.key, []).append(
            event_cls.model_validate_json(record.value).payload.n
        )
    assert all(ns == sorted(ns) for ns in by_subject.values()), "staging order was lost"
    assert by_subject[b"user-0"][0] == 0


async def test_a_second_relay_on_the_schema_stands_by_instead_of_fencing_the_first(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, _ = outbox_schema
    await ensure_topics(KAFKA, all_topics([schema]))
    first = OutboxRelay(schema=schema, database_url=DATABASE_URL, bootstrap_servers=KAFKA)
    second = OutboxRelay(schema=schema, database_url=DATABASE_URL, bootstrap_servers=KAFKA)
    await first.connect()
    try:
        with pytest.raises(RelayStandby):
            await second.connect()
        assert first.active and not second.active
        assert await first.publish_pending() == 0, "the first relay was fenced"
    finally:
        await second.stop()
        await first.stop()


@pytest.mark.fault
async def test_two_relay_processes_one_killed_the_other_takes_over_without_loss_or_duplicates(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("takeover"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    total = 4000
    events = [make_probe(event_cls, n, subject=f"user-{n % 50}") for n in range(total)]
    sessions = create_sessions(engine)

    async def stream() -> None:
        # Events keep arriving while the relays start, stand by, die and take over.
        for start in range(0, total, 100):
            async with transaction(sessions) as session:
                await stage_many(session, events[start : start + 100])
            await asyncio.sleep(0.05)

    staging = asyncio.create_task(stream())
    first = spawn(schema)
    second: subprocess.Popen[bytes] | None = None
    try:
        await wait_until(lambda: _published_at_least(engine, 200), 60, "the first relay publishing")
        second = spawn(schema)
        at_join = await published(engine)
        await asyncio.sleep(3.5)  # longer than a standby's retry interval (2 s)
        assert await holder_pids(engine, schema) == [first.pid]
        assert await published(engine) > at_join, "the standby stopped the active relay"

        first.send_signal(signal.SIGKILL)
        first.wait()
        await wait_until(
            lambda: _held_by(engine, schema, second), 30, "the standby taking the lock"
        )
        await staging
        await wait_until(lambda: _published_at_least(engine, total), 90, "every event published")
    finally:
        staging.cancel()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(30)

    records = await read_topic(event_cls.topic(), until=lambda r: len(r) >= total, settle=2.0)
    counts = Counter(event_ids(records))
    assert len(counts) == total, "some event was lost"
    assert max(counts.values()) == 1, "some event was published twice"


async def _published_at_least(engine: AsyncEngine, count: int) -> bool:
    return await published(engine) >= count


async def _held_by(
    engine: AsyncEngine, schema: str, process: subprocess.Popen[bytes] | None
) -> bool:
    assert process is not None
    return await holder_pids(engine, schema) == [process.pid]


class SimulatedCrash(Exception):
    pass


class DiesWhileSettling(OutboxRelay):
    """A relay whose first batch's settling never commits, dying after its second batch."""

    batches = 0

    async def _settle(self, ids: list[int]) -> None:
        await asyncio.Event().wait()  # the UPDATE is still in flight when the relay dies

    async def after_kafka_commit(self, ids: list[int]) -> None:
        self.batches += 1
        if self.batches == 2:
            raise SimulatedCrash("the second batch is in Kafka, the first not yet settled")

    def die(self) -> None:
        """Lose the database sessions as a dead process does."""
        if self._settling is not None:
            self._settling.cancel()
        for db in (self._db, self._settler):
            if db is not None:
                db.terminate()


@pytest.mark.fault
async def test_a_relay_that_dies_while_a_batch_is_settling_leaves_nothing_to_send_twice(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("settling"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    events = [make_probe(event_cls, n) for n in range(20)]
    async with transaction(create_sessions(engine)) as session:
        await stage_many(session, events)

    dying = DiesWhileSettling(
        schema=schema, database_url=DATABASE_URL, bootstrap_servers=KAFKA, batch_size=10
    )
    await dying.connect()
    assert await dying.publish_pending() == 10
    with pytest.raises(SimulatedCrash):
        await dying.publish_pending()
    dying.die()
    assert await published(engine) == 0, "both batches are in Kafka, neither marked"

    relay = OutboxRelay(
        schema=schema, database_url=DATABASE_URL, bootstrap_servers=KAFKA, poll_seconds=0.2
    )
    await relay.start()  # recovers both batches from the second one's marker
    try:
        await wait_until(lambda: _published_at_least(engine, 20), 30, "both batches settled")
        records = await read_topic(event_cls.topic(), until=lambda r: len(r) >= 20, settle=2.0)
    finally:
        await relay.stop()
        with contextlib.suppress(Exception):
            await dying.stop()
    counts = Counter(event_ids(records))
    assert len(counts) == 20
    assert max(counts.values()) == 1, "the first batch was sent again"
