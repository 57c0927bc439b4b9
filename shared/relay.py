"""Publishes outbox rows to Kafka exactly once, from one active relay per schema.

Each batch goes out in one Kafka transaction together with a *progress marker* (the
outbox ids in the batch) on the relay's own progress topic; only then are the rows
marked published in the database. If the relay dies between the Kafka commit and the
database update, the next relay (same transactional id, so the old one is fenced) reads
the last committed marker and marks those rows before publishing anything, so no event
is published twice. A batch whose Kafka transaction never committed is aborted by the
broker and published again; read_committed consumers never see the aborted copy.

Every replica of a service runs a relay, but only one per schema is *active*: the one
holding the schema's session-level advisory lock on its database connection. The others
stand by and try the lock every ``standby_seconds``, passing on the wakes of their own
process's commits to the active one with a ``NOTIFY`` (see :mod:`shared.outbox` for why
rows are not announced by a trigger); when the active relay's process or
connection dies, PostgreSQL releases the lock and a standby takes over (fencing the old
producer, then recovering its last batch). Without the lock the replicas' relays, which
share one transactional id, would fence each other in turn.

A service that holds personal data (the registry) runs with ``retain_published=False``:
published rows are deleted rather than marked, so its outbox never keeps a copy of
personal data that erasure would have to hunt down.

Where the time goes: the batch is read and settled with plain asyncpg statements (no
ORM objects), and sent as one record batch per partition (``send_batch``) instead of one
``send`` per event; the producer's batches are large enough to hold a whole outbox batch.

Every batch's delivery is awaited before the transaction commits. aiokafka's commit
waits for the batches but not for their success: a batch it failed would be left out of
a transaction that commits anyway, marker and all. And a partition whose leader the
producer no longer knows (a leader change, as on a fresh broker while topics are made)
holds its batch for the producer's request timeout, 40 s, before failing it. So a
transaction whose batches are not delivered within ``delivery_seconds``, or whose
partition has had no known leader for ``_LEADERLESS_SECONDS``, is given up with its
producer: the next attempt starts a fresh producer on fresh metadata (which fences the
old one, so the broker aborts its transaction), at once.
"""

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    ProducerFenced,
)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential,
    wait_random,
)

from shared.db import asyncpg_dsn
from shared.logging import get_logger
from shared.outbox import forget_wake, notify_channel, on_wake
from shared.producers import create_producer

log = get_logger(__name__)


def progress_topic(schema: str) -> str:
    """The single-partition topic holding the progress markers of ``schema``'s relay."""
    return f"_outbox-progress.{schema}"


RETRIED: tuple[type[Exception], ...] = (KafkaError, OSError, asyncpg.PostgresError, DBAPIError)
"""Failures the relay retries forever: the broker or the database is away or refused."""

# 0.2 s doubling to 10 s, plus up to 0.2 s so that relays that lost the broker together
# do not come back together.
_backoff = wait_exponential(multiplier=0.2, max=10.0) + wait_random(0, 0.2)

# A 64-bit key of its own per schema: the migration lock (hashtext(schema)) and the audit
# log's append lock live in the same key space, and a 32-bit hash would let two schemas'
# relays collide among the many schemas a test run makes.
_TRY_LOCK = "SELECT pg_try_advisory_lock(hashtextextended('outbox-relay.' || $1, 0))"
# No row locks: one relay is active per schema, and one that lost its lock is fenced
# before it can commit. $2: the batch still being settled, which reads as pending until then.
_PENDING = (
    "SELECT id, event_id::text, topic, key, value, headers::text FROM outbox"
    " WHERE published_at IS NULL AND NOT id = ANY($2::bigint[]) ORDER BY id LIMIT $1"
)
_MARK = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
_DELETE = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"
_PENDING_ONLY = " AND published_at IS NULL"
_FORWARD = "SELECT pg_notify($1, '')"
_FORWARD_GAP = 0.005
"""Seconds a standby relay waits between two NOTIFYs it passes on."""

# One record batch per partition for a whole outbox batch of small events (the default,
# 16 KiB, splits it into many, and each further batch of a partition waits for the one
# before it to be sent). Under the broker's default message.max.bytes (1 MiB).
_MAX_BATCH_BYTES = 512 * 1024

_LEADERLESS_SECONDS = 1.0
"""How long a partition of the transaction may have no known leader before the relay
gives its producer up (aiokafka forces a metadata refresh every 0.1 s meanwhile)."""
_DELIVERY_CHECK_SECONDS = 0.1

Delivery = tuple[TopicPartition, asyncio.Future[Any]]
"""A record batch (or record) sent, and the future of its delivery."""


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A delivery given up on may still fail later: its exception is retrieved here, so
    # asyncio does not report "Future exception was never retrieved".
    if not future.cancelled():
        future.exception()


def _transient(exc: BaseException) -> bool:
    # A fenced relay stands down: a newer one of its schema has taken over.
    return isinstance(exc, RETRIED) and not isinstance(exc, ProducerFenced)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.warning("outbox.publish_failed", error=repr(exc), retry_in=round(state.upcoming_sleep, 3))


def _abandon(producer: AIOKafkaProducer, failure: BaseException) -> None:
    """Fail the batches a producer given up still holds, so that stopping it does not wait
    for them (for a partition without a leader: the request timeout, 40 s)."""
    # aiokafka (pinned to 0.14) has no public call for it: its accumulator's fail_all,
    # and the drain waiters it fails, which nothing else awaits, retrieved. Without
    # them, the stop below is still bounded.
    accumulator = getattr(producer, "_message_accumulator", None)
    if accumulator is None or not hasattr(accumulator, "fail_all"):
        return
    held = [batch for queue in getattr(accumulator, "_batches", {}).values() for batch in queue]
    accumulator.fail_all(failure if isinstance(failure, KafkaError) else KafkaError(repr(failure)))
    for batch in held:
        waiter = getattr(batch, "_drain_waiter", None)
        if isinstance(waiter, asyncio.Future) and waiter.done():
            _retrieve(waiter)


class RelayStandby(RuntimeError):
    """Another relay of the schema holds its lock: this one may not publish now."""


class OutboxRelay:
    """Moves committed outbox rows of one schema to Kafka; one active relay per schema."""

    def __init__(
        self,
        *,
        schema: str,
        engine: AsyncEngine | None = None,
        database_url: str,
        bootstrap_servers: str,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        standby_seconds: float = 2.0,
        retain_published: bool = True,
        delivery_seconds: float = 15.0,
    ) -> None:
        # ``engine`` is accepted for the callers' sake; the relay works on a connection
        # of its own, which also holds its advisory lock.
        del engine
        self.schema = schema
        self._database_url = database_url
        self._bootstrap = bootstrap_servers
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._standby_seconds = standby_seconds
        self._settle_sql = _MARK if retain_published else _DELETE
        self._delivery_seconds = delivery_seconds
        self._progress = TopicPartition(progress_topic(schema), 0)
        self._partitioner = DefaultPartitioner()
        self._db: asyncpg.Connection | None = None
        """Reads batches and holds the lock (and LISTENs)."""
        self._settler: asyncpg.Connection | None = None
        """Settles a batch while the next one is read and sent."""
        self._settling: asyncio.Task[None] | None = None
        self._unsettled: list[int] = []
        """Ids Kafka has committed whose settling is not known to have committed."""
        self._headers: dict[str, list[tuple[str, bytes]]] = {}
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._waker: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    @property
    def active(self) -> bool:
        """True while this relay holds its schema's lock and may publish."""
        return self._producer is not None

    async def connect(self) -> None:
        """Become the active relay now: take the lock, fence older producers, recover.

        Raises :class:`RelayStandby` when another relay of the schema is active.
        """
        if not await self._activate():
            raise RelayStandby(f"another relay of schema {self.schema} is active")

    async def start(self) -> None:
        """Publish in the background: active once the lock is ours, standing by until then."""
        self._waker = on_wake(self._wake)
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay.{self.schema}")

    async def stop(self) -> None:
        """Stop after the batch in flight, if any, and let a standby take over."""
        if self._waker is not None:
            forget_wake(self._waker)
            self._waker = None
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._deactivate()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _activate(self) -> bool:
        if self._producer is not None:
            return True
        if self._db is None:
            self._db = await self._connect()
        if not await self._db.fetchval(_TRY_LOCK, self.schema):
            return False
        self._settler = await self._connect()
        producer = create_producer(
            self._bootstrap,
            transactional_id=f"outbox-relay.{self.schema}",
            linger_ms=2,
            max_batch_size=_MAX_BATCH_BYTES,
            client_id=f"{self.schema}-outbox-relay",
        )
        await producer.start()  # fences the producer of any older relay of the schema
        self._producer = producer
        await self._db.add_listener(notify_channel(self.schema), self._on_notify)
        await self.recover()
        log.info("outbox.relay_active", schema=self.schema)
        return True

    async def _connect(self) -> asyncpg.Connection:
        # Named after the process, so pg_locks/pg_stat_activity tell which one is active.
        return await asyncpg.connect(
            asyncpg_dsn(self._database_url),
            server_settings={
                "search_path": self.schema,
                "application_name": f"outbox-relay:{os.getpid()}@{socket.gethostname()}",
            },
        )

    async def _deactivate(self, failure: BaseException | None = None) -> None:
        settling, self._settling, self._unsettled = self._settling, None, []
        if settling is not None:
            # Let the last settle finish (a clean stop leaves nothing to recover); if it
            # cannot, the next active relay recovers it from the progress marker.
            with contextlib.suppress(Exception):
                if not settling.done():
                    await asyncio.wait_for(asyncio.shield(settling), 10)
                elif not settling.cancelled():
                    settling.exception()  # retrieved, so asyncio does not warn of it
        producer, self._producer = self._producer, None
        if producer is not None:
            if failure is not None:
                _abandon(producer, failure)
            # A fenced or disconnected producer may fail to stop, or (a transactional
            # producer whose coordinator is gone) wait for ever: a stop is bounded.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)
        for db in (self._settler, self._db):
            # Closing the session releases the lock; a broken one is just dropped.
            if db is not None:
                try:
                    await asyncio.wait_for(db.close(), 5)
                except Exception:
                    db.terminate()
        self._settler = self._db = None

    async def recover(self) -> int:
        """Mark as published the rows of the last committed marker; return how many."""
        assert self._db is not None, "connect() the relay first"
        ids = await self._last_committed_batch()
        if not ids:
            return 0
        status = await self._db.execute(self._settle_sql + _PENDING_ONLY, ids)
        recovered = int(status.split()[-1])
        if recovered:
            log.warning("outbox.recovered_committed_batch", rows=recovered)
        return recovered

    async def _last_committed_batch(self) -> list[int]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            consumer.assign([self._progress])
            end = (await consumer.end_offsets([self._progress]))[self._progress]
            if end == 0:
                return []
            # Each transaction adds a marker and a commit record: the last marker is near the end.
            consumer.seek(self._progress, max(0, end - 20))
            last: bytes | None = None
            deadline = asyncio.get_running_loop().time() + 15
            while await consumer.position(self._progress) < end:
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError("reading the outbox progress topic timed out")
                batch = await consumer.getmany(self._progress, timeout_ms=500)
                for record in batch.get(self._progress, []):
                    last = record.value
            return list(json.loads(last)["ids"]) if last else []
        finally:
            await consumer.stop()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows in one Kafka transaction; return its size.

        The batch is settled in the database while the next one is read and sent: the
        next batch's marker names both, so a relay that dies before the first one's
        settling committed leaves it to the next relay's recovery, not to be sent again.
        """
        assert self._producer is not None and self._db is not None, "connect() the relay first"
        rows = await self._db.fetch(_PENDING, self._batch_size, self._unsettled)
        if not rows:
            await self._settled()
            return 0
        ids = [row[0] for row in rows]
        producer = self._producer
        # Not `async with producer.transaction()`: its abort on an error waits for the
        # batches, which a producer that cannot deliver them never finishes. A failure
        # here gives the producer up (_step), and the next one fences its transaction.
        await producer.begin_transaction()
        deliveries: list[Delivery] = []
        try:
            await self._send(rows, deliveries)
            marker = await producer.send(
                self._progress.topic,
                value=json.dumps({"ids": [*self._unsettled, *ids]}).encode(),
                key=self.schema.encode(),
                partition=0,
            )
            deliveries.append((self._progress, marker))
            await self._delivered(deliveries)
        finally:
            for _, future in deliveries:  # those given up on too
                future.add_done_callback(_retrieve)
        await producer.commit_transaction()
        self._unsettled = [*self._unsettled, *ids]
        await self.after_kafka_commit(ids)
        await self._settled()  # at most one batch settling at a time
        self._unsettled = ids
        self._settling = asyncio.create_task(self._settle(ids))
        self.published += len(ids)
        return len(ids)

    async def _settle(self, ids: list[int]) -> None:
        assert self._settler is not None
        await self._settler.execute(self._settle_sql, ids)

    async def _settled(self) -> None:
        """Wait for the batch being settled; a failure is raised here, on the next batch."""
        if self._settling is not None:
            await asyncio.shield(self._settling)
            self._settling, self._unsettled = None, []

    async def _delivered(self, deliveries: list[Delivery]) -> None:
        """Wait until every batch of the transaction is delivered; raise if one is not.

        Raises the first failure, ``NotLeaderForPartitionError`` when a partition has had
        no known leader for ``_LEADERLESS_SECONDS``, ``KafkaTimeoutError`` after
        ``delivery_seconds``.
        """
        assert self._producer is not None
        cluster = self._producer.client.cluster
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._delivery_seconds
        leaderless_since: float | None = None
        waiting = {future: tp for tp, future in deliveries}
        while waiting:
            done, _ = await asyncio.wait(
                waiting, timeout=_DELIVERY_CHECK_SECONDS, return_when=asyncio.FIRST_EXCEPTION
            )
            failures = [f.exception() for f in done if not f.cancelled()]
            for future in done:
                del waiting[future]
            if failure := next((f for f in failures if f is not None), None):
                raise failure
            now = loop.time()
            lost = sorted(
                f"{tp.topic}[{tp.partition}]"
                for tp in set(waiting.values())
                if cluster.leader_for_partition(tp) in (None, -1)
            )
            if not lost:
                leaderless_since = None
            elif leaderless_since is None:
                leaderless_since = now
            elif now - leaderless_since >= _LEADERLESS_SECONDS:
                raise NotLeaderForPartitionError(f"no known leader for {', '.join(lost)}")
            if waiting and now >= give_up:
                raise KafkaTimeoutError(
                    f"{len(waiting)} batches not delivered in {self._delivery_seconds} s"
                )

    async def _send(self, rows: Sequence[asyncpg.Record], deliveries: list[Delivery]) -> None:
        """Append the rows, in order, to one record batch per partition, and send those;
        each batch's partition and the future of its delivery go to ``deliveries``."""
        assert self._producer is not None
        producer = self._producer
        partitions: dict[str, list[int]] = {}
        batches: dict[TopicPartition, BatchBuilder] = {}
        for _, event_id, topic, key, value, headers_json in rows:
            if topic not in partitions:
                partitions[topic] = sorted(await producer.partitions_for(topic))
            key_bytes, value_bytes = key.encode(), value.encode()
            # The partition send() would choose: the same key lands where it always did.
            tp = TopicPartition(topic, self._partitioner(key_bytes, partitions[topic], None))
            if headers_json not in self._headers:  # a few trace contexts a batch, at most
                if len(self._headers) > 1000:
                    self._headers.clear()
                self._headers[headers_json] = [
                    *((k, v.encode()) for k, v in json.loads(headers_json).items()),
                    ("content-type", b"application/json"),
                ]
            headers = [*self._headers[headers_json], ("event-id", event_id.encode())]
            record = {"timestamp": None, "key": key_bytes, "value": value_bytes}
            batch = batches.get(tp)
            if batch is not None:
                if batch.append(**record, headers=headers) is not None:
                    continue
                # Full: send it; the partition's next batch waits for it, in order.
                deliveries.append(
                    (tp, await producer.send_batch(batch, topic, partition=tp.partition))
                )
            batch = batches[tp] = producer.create_batch()
            if batch.append(**record, headers=headers) is None:
                # Larger than a whole batch: send() raises the broker's size error for it.
                del batches[tp]
                sent = await producer.send(
                    topic, key=key_bytes, value=value_bytes, headers=headers, partition=tp.partition
                )
                deliveries.append((tp, sent))
        for tp, batch in batches.items():
            deliveries.append(
                (tp, await producer.send_batch(batch, tp.topic, partition=tp.partition))
            )

    async def after_kafka_commit(self, ids: list[int]) -> None:
        """Called between the Kafka commit and the database update; a seam for fault tests."""

    async def _step(self) -> int | None:
        """Publish one batch if this relay is (or now becomes) active; None on standby."""
        try:
            if not await self._activate():
                return None
            return await self.publish_pending()
        except BaseException as exc:
            # Whatever failed, start again from a fresh connection and producer: the
            # lock may be gone with the connection, and a standby may hold it now.
            await self._deactivate(failure=exc)
            raise

    async def _stand_by(self) -> None:
        """Wait ``standby_seconds`` before trying the lock again, passing on wakes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._standby_seconds
        while (left := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except TimeoutError:
                return
            self._wake.clear()
            # This process committed rows the active relay (another replica's) should
            # read now rather than at its next poll. One NOTIFY at a time, at most one a
            # _FORWARD_GAP: a burst of commits costs the cluster a few NOTIFY commits.
            if self._db is not None:
                try:
                    await self._db.execute(_FORWARD, notify_channel(self.schema))
                except RETRIED as exc:
                    log.warning("outbox.forward_failed", error=repr(exc))
            await asyncio.sleep(_FORWARD_GAP)

    async def _run(self) -> None:
        # Each call starts a fresh retry state: the backoff starts again after a success.
        retrying = AsyncRetrying(
            retry=retry_if_exception(_transient),
            wait=_backoff,
            before_sleep=_log_retry,
            reraise=True,
        )
        while True:
            self._wake.clear()  # before reading, so a NOTIFY during the batch is not lost
            try:
                count: int | None = await retrying(self._step)
            except ProducerFenced:
                log.error("outbox.relay_fenced", detail="another relay of this schema took over")
                count = None
            if count is None:
                await self._stand_by()
            elif count < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
