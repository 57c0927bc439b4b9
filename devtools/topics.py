"""Reading and writing Kafka topics directly, as an outside producer or auditor would."""

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from devtools.stack import KAFKA
from shared.events import CATALOGUE, Envelope
from shared.kafka import all_topics, ensure_topics


async def produce(topic: str, *values: bytes, key: bytes = b"user-1") -> None:
    """Send raw ``values`` to ``topic`` one after another, each acknowledged by all replicas."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
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
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
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


async def skip_history(schemas: list[str], topics: list[str] | None = None) -> None:
    """Commit the consumer groups of services on ``schemas`` at the end of ``topics``
    (every topic of the catalogue by default).

    The topics are shared with every other test on the broker; a new group would read
    all their history first. A stack needs only what it makes, which comes later.
    """
    await ensure_topics(KAFKA, all_topics())
    topics = topics or [event.topic() for event in CATALOGUE]
    ends = {topic: await end_offsets(topic) for topic in topics}
    limit = asyncio.Semaphore(8)

    async def commit(group: str, topic: str) -> None:
        async with limit:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=KAFKA, group_id=group, enable_auto_commit=False
            )
            await consumer.start()
            try:
                consumer.assign(list(ends[topic]))
                await consumer.commit(dict(ends[topic]))
            finally:
                await consumer.stop()

    await asyncio.gather(
        *(commit(f"{s}.{t}", t) for s in schemas for t in topics if any(ends[t].values()))
    )


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
