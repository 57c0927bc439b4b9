"""Reading a topic from where it ended before a call: what the call itself published.

(Reading a shared topic from its beginning grows slower with every run of the
benchmarks against the same broker; a read path test needs only what came after.)
"""

import asyncio
import json
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from devtools.stack import KAFKA


async def tail(topic: str) -> dict[TopicPartition, int]:
    """Where every partition of ``topic`` ends now (committed records only)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    tps = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, isolation_level="read_committed")
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def published_since(
    start: dict[TopicPartition, int], keys: set[str], count: int, *, timeout: float = 20.0
) -> list[dict[str, Any]]:
    """The events keyed by one of ``keys`` published after ``start``, once there are
    ``count`` of them (read committed); raise TimeoutError if they never come."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=KAFKA, isolation_level="read_committed", enable_auto_commit=False
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < count:
            if loop.time() > deadline:
                raise TimeoutError(f"{len(found)} of {count} events published")
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found += [json.loads(r.value) for r in records if r.key and r.key.decode() in keys]
    finally:
        await consumer.stop()
    return found
