"""Helpers for tests that talk to the real broker and database."""

import asyncio
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import Field

from shared.events import Envelope, Payload
from shared.settings import DEFAULT_DATABASE_URL, DEFAULT_KAFKA

ROOT = Path(__file__).resolve().parents[2]
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
DATABASE_URL = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def unique(prefix: str) -> str:
    """A name no earlier run used: test schemas, topics and consumer groups."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class ProbePayload(Payload):
    n: int = Field(description="A sequence number chosen by the test.")
    note: str = ""


class ProbeEvent(Envelope):
    """An event used only by tests; subclass it with :func:`probe_event` for a fresh topic."""

    EVENT_TYPE: ClassVar[str] = "test.probe"
    payload: ProbePayload


def probe_event(name: str) -> type[ProbeEvent]:
    """A probe event class with a topic of its own (``test.<name>.v1``)."""
    return type(f"Probe_{name}", (ProbeEvent,), {"EVENT_TYPE": f"test.{name}"})


def make_probe(cls: type[ProbeEvent], n: int, subject: str | None = None) -> ProbeEvent:
    return cls.create(
        producer="tests", subject_id=subject or f"user-{n % 7}", payload=ProbePayload(n=n)
    )


async def end_offsets(topic: str) -> dict[TopicPartition, int]:
    """The current end of every partition of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        return dict(await consumer.end_offsets(tps)) if tps else {}
    finally:
        await consumer.stop()


async def read_topic(
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float = 30.0,
    isolation_level: str = "read_committed",
    settle: float = 0.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``topic`` from the beginning until ``until(records)`` holds, then ``settle`` more
    seconds (to catch late duplicates); raise TimeoutError if it never holds."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=KAFKA,
        isolation_level=isolation_level,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while not until(records):
            if loop.time() > deadline:
                raise TimeoutError(f"{topic}: condition not met; {len(records)} records read")
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
        settle_end = loop.time() + settle
        while loop.time() < settle_end:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def event_ids(records: list[ConsumerRecord[bytes, bytes]]) -> list[str]:
    """The event ids in ``records``, in order, duplicates kept."""
    ids = []
    for record in records:
        assert record.value is not None
        ids.append(str(Envelope.model_validate_json(record.value).event_id))
    return ids


async def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> None:
    """Poll an async or sync predicate until it is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.1)
