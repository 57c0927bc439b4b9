"""The shared batch subscriber, against the real broker: each record decoded, what does not
decode dead-lettered with the reason, offsets committed only once the work is done, and
only the topics named with the service's prefix read."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaRouter

from shared.app import create_broker
from shared.events import dlq_topic
from shared.kafka import Batch, all_topics, ensure_topics, subscribe_batch
from shared.settings import ServiceSettings
from tests.support import (
    KAFKA,
    ProbeEvent,
    drop_topics,
    make_probe,
    probe_event,
    produce,
    read_topic,
    topic_prefix,
    unique,
    wait_until,
)

pytestmark = pytest.mark.integration


class BatchSettings(ServiceSettings):
    service_name: ClassVar[str] = "batches"


@dataclass
class Consumer:
    """A broker with one batch subscriber, and what its work saw."""

    settings: BatchSettings
    topic: str
    """The probe's contract name; the subscriber reads it after the prefix."""
    batches: list[list[int]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    failures: int = 0
    """How many batches the work is to fail before it succeeds."""

    @property
    def name(self) -> str:
        return self.settings.topic(self.topic)

    async def committed(self) -> int:
        """The group's committed offset on partition 0 (-1: none)."""
        group = f"{self.settings.schema_name}.{self.name}"
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        found = offsets.get(TopicPartition(self.name, 0))
        return -1 if found is None else int(found.offset)


Work = Callable[[Batch[ProbeEvent], Any], Awaitable[None]]


@pytest.fixture
async def consumer() -> AsyncIterator[Consumer]:
    prefix = topic_prefix("t_batch")
    cls = probe_event(unique("batch"))
    settings = BatchSettings(db_schema=unique("t_batch"), topic_prefix=prefix)
    made = Consumer(settings=settings, topic=cls.topic())
    await ensure_topics(KAFKA, all_topics(prefix=prefix, names=[made.topic]), partitions=1)
    await ensure_topics(KAFKA, all_topics(names=[made.topic]), partitions=1)

    async def on_probes(batch: Batch[ProbeEvent], runtime: Any) -> None:
        await made.release.wait()
        if made.failures:
            made.failures -= 1
            raise RuntimeError("the work's transaction failed")
        made.batches.append([event.payload.n for event in batch.events])

    broker = create_broker(settings)
    router = KafkaRouter()
    subscribe_batch(router, settings, made.topic, cls, on_probes, max_records=100)
    broker.include_router(router)
    broker.context.set_global("runtime", SimpleNamespace(broker=broker))
    await broker.start()
    try:
        yield made
    finally:
        made.release.set()
        await broker.stop()
        await drop_topics(prefix)


def probe(consumer: Consumer, n: int) -> bytes:
    cls = probe_event(consumer.topic.removeprefix("test.").removesuffix(".v1"))
    return make_probe(cls, n).to_bytes()


def seen(consumer: Consumer) -> list[int]:
    return [n for batch in consumer.batches for n in batch]


async def test_a_malformed_record_is_dead_lettered_with_the_reason_and_the_rest_handed_over(
    consumer: Consumer,
) -> None:
    consumer.release.set()
    broken = json.loads(probe(consumer, 2))
    del broken["event_id"]
    await produce(
        consumer.name, probe(consumer, 1), json.dumps(broken).encode(), b"{not json", key=b"k"
    )
    await produce(consumer.name, probe(consumer, 3), key=b"k")

    await wait_until(lambda: seen(consumer) == [1, 3], 30, "the good records")
    dead = await read_topic(dlq_topic(consumer.name), until=lambda rs: len(rs) >= 2)
    reasons = [dict(r.headers)["dlq-reason"].decode() for r in dead]
    assert reasons[0] == "invalid event: event_id: Field required"
    assert reasons[1].startswith("invalid event: <message>: Invalid JSON")
    assert await consumer.committed() == 4


async def test_offsets_are_committed_only_after_the_work_returns(consumer: Consumer) -> None:
    await produce(consumer.name, probe(consumer, 1), probe(consumer, 2), key=b"k")
    await asyncio.sleep(3)  # read, and waiting in the work
    assert consumer.batches == [] and await consumer.committed() == -1

    consumer.release.set()
    await wait_until(lambda: seen(consumer) == [1, 2], 30, "the batch's work")

    async def committed() -> bool:
        return await consumer.committed() == 2

    await wait_until(committed, 30, "the offsets, once the work returned")


async def test_a_failing_batch_is_not_committed_but_read_again(consumer: Consumer) -> None:
    consumer.failures = 1
    await produce(consumer.name, probe(consumer, 1), key=b"k")
    consumer.release.set()

    await wait_until(lambda: seen(consumer) == [1], 30, "the batch, read again after it failed")
    assert consumer.failures == 0

    async def committed() -> bool:
        return await consumer.committed() == 1

    await wait_until(committed, 30, "the offsets, once the second try returned")


async def test_a_service_with_a_prefix_reads_only_its_own_topics(consumer: Consumer) -> None:
    consumer.release.set()
    await produce(consumer.topic, probe(consumer, 1), key=b"k")  # without the prefix
    await produce(consumer.name, probe(consumer, 2), key=b"k")

    await wait_until(lambda: seen(consumer) == [2], 30, "the prefixed topic's record")
    await asyncio.sleep(2)
    assert seen(consumer) == [2]
