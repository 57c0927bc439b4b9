"""The outbox and its relay, against the real broker and database."""

import asyncio
import contextlib
import gc
import os
import signal
import subprocess
import sys
from collections import Counter

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, ProducerFenced
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import asyncpg_dsn, create_sessions, transaction
from shared.kafka import all_topics, ensure_topics
from shared.outbox import OutboxMessage, forget_wake, notify_channel, stage
from shared.relay import OutboxRelay
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


def relay_for(
    schema: str, engine: AsyncEngine, cls: type[OutboxRelay] = OutboxRelay, **kwargs: object
) -> OutboxRelay:
    options: dict[str, object] = {"poll_seconds": 0.2, **kwargs}
    return cls(
        schema=schema,
        engine=engine,
        database_url=DATABASE_URL,
        bootstrap_servers=KAFKA,
        **options,  # type: ignore[arg-type]
    )


async def pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.published_at.is_(None)  # type: ignore[union-attr]
            )
        )
        return int(result.scalar_one())


async def test_committed_event_is_published_exactly_once(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("outbox"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    event = make_probe(event_cls, 1)
    async with transaction(create_sessions(engine)) as session:
        stage(session, event)

    relay = relay_for(schema, engine)
    await relay.start()
    try:
        records = await read_topic(event_cls.topic(), until=lambda r: len(r) >= 1, settle=1.0)
    finally:
        await relay.stop()

    assert event_ids(records) == [str(event.event_id)]
    assert records[0].key == event.subject_id.encode()
    assert await pending(engine) == 0


async def test_rolled_back_event_is_never_published(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("rollback"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    rolled_back, committed = make_probe(event_cls, 1), make_probe(event_cls, 2)
    sessions = create_sessions(engine)
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            stage(session, rolled_back)
            raise RuntimeError("the use case failed after staging its event")
    async with transaction(sessions) as session:
        stage(session, committed)

    relay = relay_for(schema, engine)
    await relay.start()
    try:
        records = await read_topic(event_cls.topic(), until=lambda r: len(r) >= 1, settle=1.0)
    finally:
        await relay.stop()
    assert event_ids(records) == [str(committed.event_id)]


class SimulatedCrash(Exception):
    pass


class CrashAfterKafkaCommit(OutboxRelay):
    """A relay that dies after Kafka committed a batch, before the database knew."""

    async def after_kafka_commit(self, ids: list[int]) -> None:
        raise SimulatedCrash("between the Kafka commit and the database update")

    def die(self) -> None:
        """Lose the database session as a dead process does, keeping the old producer."""
        assert self._db is not None
        self._db.terminate()


async def rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(select(func.count()).select_from(OutboxMessage))
        return int(result.scalar_one())


@pytest.mark.parametrize("retain", [True, False], ids=["marks-rows", "deletes-rows"])
@pytest.mark.fault
async def test_relay_crash_after_kafka_commit_does_not_publish_twice(
    outbox_schema: tuple[str, AsyncEngine], retain: bool
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("crash"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    events = [make_probe(event_cls, n) for n in range(20)]
    async with transaction(create_sessions(engine)) as session:
        stage(session, *events)

    crashing = relay_for(schema, engine, CrashAfterKafkaCommit, retain_published=retain)
    assert isinstance(crashing, CrashAfterKafkaCommit)
    await crashing.connect()
    with pytest.raises(SimulatedCrash):
        await crashing.publish_pending()
    # The batch is in Kafka, but the database still calls it pending.
    assert await pending(engine) == 20
    crashing.die()  # its lock goes with its session; its producer lingers, unfenced

    relay = relay_for(schema, engine, retain_published=retain)
    await relay.start()  # fences the crashed producer and recovers its batch
    try:
        records = await read_topic(event_cls.topic(), until=lambda r: len(r) >= 20, settle=2.0)
    finally:
        await relay.stop()
        with contextlib.suppress(Exception):  # it was fenced by the new relay
            await crashing.stop()
    assert sorted(event_ids(records)) == sorted(str(e.event_id) for e in events)
    assert await pending(engine) == 0
    # A relay that keeps no copy (the registry's) deleted every row it published.
    assert await rows(engine) == (20 if retain else 0)


@pytest.mark.fault
async def test_relay_killed_mid_stream_and_restarted_publishes_each_event_once(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("kill"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    total = 3000
    events = [make_probe(event_cls, n) for n in range(total)]
    sessions = create_sessions(engine)
    for start in range(0, total, 500):
        async with transaction(sessions) as session:
            stage(session, *events[start : start + 500])

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.run_relay", schema, "50"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    first = spawn()
    try:
        await wait_until(lambda: _published_between(engine, 300, total - 300), 60, "progress")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert 0 < await pending(engine) < total, "the relay was killed mid-stream"

    second = spawn()
    try:
        await wait_until(lambda: _all_published(engine), 90, "all rows published")
    finally:
        second.terminate()
        second.wait()

    records = await read_topic(event_cls.topic(), until=lambda r: len(r) >= total, settle=2.0)
    counts = Counter(event_ids(records))
    assert len(counts) == total
    assert max(counts.values()) == 1, "some event was published twice"
    # Per subject, events keep the order they were written in.
    by_subject: dict[bytes, list[int]] = {}
    for record in records:
        assert record.value is not None and record.key is not None
        n = event_cls.model_validate_json(record.value).payload.n
        by_subject.setdefault(record.key, []).append(n)
    assert all(ns == sorted(ns) for ns in by_subject.values())


async def _published_between(engine: AsyncEngine, low: int, high: int) -> bool:
    async with engine.connect() as conn:
        done = (
            await conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"))
        ).scalar_one()
    return bool(low <= done <= high)


async def _all_published(engine: AsyncEngine) -> bool:
    return await pending(engine) == 0


async def test_relay_wakes_on_a_commit_of_its_process_without_waiting_for_the_poll(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("wake"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    relay = relay_for(schema, engine, poll_seconds=30.0)
    await relay.start()
    try:
        await wait_until(lambda: relay.active, 15, "the relay to become active")
        await asyncio.sleep(0.3)  # the relay is now idle, waiting up to 30 s
        async with transaction(create_sessions(engine)) as session:
            stage(session, make_probe(event_cls, 1))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await read_topic(event_cls.topic(), until=lambda r: len(r) >= 1, timeout=10)
        assert loop.time() - started < 5, "published by the 30 s poll, not by the commit's wake"
    finally:
        await relay.stop()


async def test_a_standby_relay_passes_its_process_commits_on_to_the_active_one(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("forward"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    active = relay_for(schema, engine, poll_seconds=30.0)
    standby = relay_for(schema, engine, poll_seconds=30.0, standby_seconds=30.0)
    await active.start()
    try:
        await wait_until(lambda: active.active, 15, "the first relay to become active")
        # As if the active relay ran in another replica's process: it does not hear this
        # process's commits, only the standby's NOTIFY (and its own 30 s poll).
        assert active._waker is not None
        forget_wake(active._waker)
        await standby.start()
        await asyncio.sleep(0.5)  # the standby found the lock taken and stands by
        assert not standby.active
        async with transaction(create_sessions(engine)) as session:
            stage(session, make_probe(event_cls, 1))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await read_topic(event_cls.topic(), until=lambda r: len(r) >= 1, timeout=10)
        assert loop.time() - started < 5, "published by the 30 s poll, not by the forwarded wake"
    finally:
        await standby.stop()
        await active.stop()


async def test_staging_announces_nothing_in_the_transaction(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    # A NOTIFY in a transaction makes PostgreSQL serialise its commit, WAL flush and all,
    # with every other one: a LISTENer hears nothing from a commit that staged rows.
    schema, engine = outbox_schema
    heard: list[str] = []
    listener = await asyncpg.connect(asyncpg_dsn(DATABASE_URL))
    try:
        await listener.add_listener(notify_channel(schema), lambda *a: heard.append(a[2]))
        async with transaction(create_sessions(engine)) as session:
            stage(session, make_probe(probe_event(unique("quiet")), 1))
        await listener.execute("SELECT 1")  # a round trip, so a NOTIFY would have arrived
        await asyncio.sleep(0.3)
    finally:
        await listener.close()
    assert heard == []
    assert await pending(engine) == 1


class FailingFirst(OutboxRelay):
    """A relay whose first publications fail with ``errors``, one each, in turn."""

    errors: list[BaseException]
    calls = 0

    async def publish_pending(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return await super().publish_pending()


@pytest.mark.fault
async def test_relay_retries_while_the_broker_or_database_is_away_then_publishes(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("retry"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    event = make_probe(event_cls, 1)
    async with transaction(create_sessions(engine)) as session:
        stage(session, event)

    relay = relay_for(schema, engine, FailingFirst)
    assert isinstance(relay, FailingFirst)
    relay.errors = [KafkaConnectionError("broker away"), ConnectionResetError(104, "reset")]
    await relay.start()
    try:
        records = await read_topic(event_cls.topic(), until=lambda r: len(r) >= 1, settle=1.0)
    finally:
        await relay.stop()
    assert event_ids(records) == [str(event.event_id)]
    assert relay.calls >= 3
    assert await pending(engine) == 0


@pytest.mark.fault
async def test_a_fenced_relay_stands_down_instead_of_retrying(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    await ensure_topics(KAFKA, all_topics([schema]))
    relay = relay_for(schema, engine, FailingFirst)
    assert isinstance(relay, FailingFirst)
    relay.errors = [ProducerFenced()]
    await relay.start()
    try:
        await asyncio.sleep(1.0)
    finally:
        await relay.stop()
    assert relay.calls == 1


class LosesALeader(OutboxRelay):
    """A relay whose first producer no longer knows the leader of ``topic``, as when its
    metadata missed a leader change: aiokafka holds the topic's batch until its request
    timeout (40 s), then fails it with NotLeaderForPartitionError."""

    topic = ""
    producers: list[AIOKafkaProducer]

    async def publish_pending(self) -> int:
        producer = self._producer
        assert producer is not None
        if not self.producers:
            cluster = producer.client.cluster
            known = cluster.leader_for_partition
            cluster.leader_for_partition = lambda tp: None if tp.topic == self.topic else known(tp)
        if producer not in self.producers:
            self.producers.append(producer)
        return await super().publish_pending()


async def test_a_relay_whose_producer_lost_a_leader_publishes_at_once_with_a_fresh_one(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    schema, engine = outbox_schema
    event_cls = probe_event(unique("leader"))
    await ensure_topics(KAFKA, {event_cls.topic(): 3, **all_topics([schema])})
    sent = [make_probe(event_cls, i) for i in range(3)]
    async with transaction(create_sessions(engine)) as session:
        stage(session, *sent)
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(
        lambda _, context: reported.append(f"{context['message']}: {context.get('exception')!r}")
    )
    relay = relay_for(schema, engine, LosesALeader)
    assert isinstance(relay, LosesALeader)
    relay.topic, relay.producers = event_cls.topic(), []
    started = loop.time()
    await relay.start()
    try:
        records = await read_topic(event_cls.topic(), until=lambda r: len(r) >= 3, timeout=10)
        took = loop.time() - started
        await asyncio.sleep(1.0)  # late duplicates, if any
        records = await read_topic(event_cls.topic(), until=lambda r: len(r) >= 3)
    finally:
        await relay.stop()
        producers = len(relay.producers)
        relay.producers.clear()
        gc.collect()  # a future whose exception nobody retrieved reports it when collected
        loop.set_exception_handler(previous)

    assert sorted(event_ids(records)) == sorted(str(e.event_id) for e in sent)
    assert took < 5, f"published after {took:.1f} s"
    assert producers == 2 and await pending(engine) == 0
    assert reported == []
