"""A write acknowledged while one broker is down survives that broker's disk being lost.

Every producer waits for all in-sync replicas (shared.producers) and the cluster's topics
have three copies of which two must hold a write (``min.insync.replicas=2``). So a write
acknowledged with one broker down is on both others. Here the down broker then comes back
with an empty data directory (a replaced disk), copies its replicas back, and another
broker is killed: everything acknowledged is still read back. Then the broker killed
second comes back and the third is killed: the partitions the rebuilt broker now leads
are read from the copy it rebuilt from nothing.
"""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from devtools.cluster import Cluster
from shared.kafka import ensure_topics
from shared.producers import create_producer
from tests.support import drop_topics, unique

pytestmark = [pytest.mark.integration, pytest.mark.fault]

WRITES = 3000


async def write(bootstrap: str, topic: str, count: int) -> set[bytes]:
    """``count`` records; the values of those acknowledged."""
    producer = create_producer(bootstrap, linger_ms=5, request_timeout_ms=30000)
    await producer.start()
    try:
        values = [f"{topic}:{n}".encode() for n in range(count)]
        sent = [
            await producer.send(topic, value, key=str(n % 97).encode())
            for n, value in enumerate(values)
        ]
        results = await asyncio.gather(*sent, return_exceptions=True)
    finally:
        await producer.stop()
    return {v for v, r in zip(values, results, strict=True) if not isinstance(r, BaseException)}


async def read_all(bootstrap: str, topic: str, partitions: int) -> list[bytes]:
    """Every record of ``topic``, from the start to its end as the leaders see it now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=30000
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        values: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in tps])

        while await behind():
            if loop.time() > deadline:
                raise TimeoutError(f"{len(values)} records read; ends {end}")
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                values.extend(r.value or b"" for r in batch)
        return values
    finally:
        await consumer.stop()


async def test_a_write_acknowledged_with_a_broker_down_survives_that_brokers_disk_being_lost(
    cluster: Cluster,
) -> None:
    topic = unique("t_fault_acked")
    everyone = set(range(1, cluster.nodes + 1))
    await ensure_topics(cluster.bootstrap, {topic: 3}, replication_factor=3, min_insync_replicas=2)
    await cluster.wait_in_sync([topic], everyone)
    lost, other = 3, 1
    try:
        await cluster.kill(lost)
        await cluster.wait_in_sync([topic], everyone - {lost}, timeout=60)
        acknowledged = await write(cluster.bootstrap, topic, WRITES)
        assert len(acknowledged) == WRITES, "writes with two of three brokers up were refused"

        await cluster.wipe(lost)
        await cluster.start_node(lost)
        # The emptied broker copies its replicas back from the others and rejoins them.
        await cluster.wait_in_sync([topic], everyone)
        await cluster.kill(other)
        first = await read_all(cluster.bootstrap, topic, 3)

        await cluster.start_node(other)
        await cluster.wait_in_sync([topic], everyone)
        last = 6 - lost - other
        await cluster.kill(last)
        await cluster.wait_in_sync([topic], everyone - {last}, timeout=60)
        rebuilt_leads = sorted(p for p, n in (await cluster.leaders(topic)).items() if n == lost)
        second = await read_all(cluster.bootstrap, topic, 3)
    finally:
        await cluster.start()
        await drop_topics(topic, bootstrap=cluster.bootstrap)
    assert set(first) == acknowledged and len(first) == WRITES, "an acknowledged write was lost"
    assert set(second) == acknowledged and len(second) == WRITES
    print(
        f"\n{WRITES} writes acknowledged with node {lost} down; node {lost}'s data deleted; "
        f"read back with node {other} down: {len(set(first))}; with node {last} down "
        f"(the rebuilt copy leading partitions {rebuilt_leads}): {len(set(second))}"
    )
