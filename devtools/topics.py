"""Reading and writing Kafka topics directly, as an outside producer or auditor would."""

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from devtools.stack import KAFKA, unique
from shared.events import Envelope
from shared.producers import create_producer


async def produce(topic: str, *values: bytes, key: bytes = b"user-1") -> None:
    """Send raw ``values`` to ``topic`` one after another, each acknowledged by all replicas."""
    producer = create_producer(KAFKA)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def end_offsets(topic: str) -> dict[TopicPartition, int]:
    """The committed end of every partition of ``topic``.

    (A bare consumer's ``partitions_for_topic`` answers None for a topic it is not
    subscribed to; a producer's ``partitions_for`` waits for the topic's metadata.)
    """
    producer = create_producer(KAFKA)
    await producer.start()
    try:
        partitions = await producer.partitions_for(topic)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, isolation_level="read_committed")
    await consumer.start()
    try:
        return dict(await consumer.end_offsets([TopicPartition(topic, p) for p in partitions]))
    finally:
        await consumer.stop()


def topic_prefix(name: str) -> str:
    """A topic prefix no earlier run used, for a stack or a benchmark of its own: its
    services (``topic_prefix=``, or ``TOPIC_PREFIX``) read and write only its topics."""
    return f"{unique(name)}."


async def drop_topics(*prefixes: str, bootstrap: str = KAFKA) -> None:
    """Delete every topic named with one of ``prefixes`` (a finished stack's), so that the
    broker (at ``bootstrap``) does not keep their partitions open for ever."""
    if not all(prefixes):
        raise ValueError("drop_topics: a prefix is required (the shared topics stay)")
    if not prefixes:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(prefixes)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


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
