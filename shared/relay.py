"""Publishes outbox rows to Kafka exactly once.

Each batch goes out in one Kafka transaction together with a *progress marker* (the
outbox ids in the batch) on the relay's own progress topic; only then are the rows
marked published in the database. If the relay dies between the Kafka commit and the
database update, the next relay (same transactional id, so the old one is fenced) reads
the last committed marker and marks those rows before publishing anything, so no event
is published twice. A batch whose Kafka transaction never committed is aborted by the
broker and published again; read_committed consumers never see the aborted copy.

A service that holds personal data (the registry) runs with ``retain_published=False``:
published rows are deleted rather than marked, so its outbox never keeps a copy of
personal data that erasure would have to hunt down.
"""

import asyncio
import contextlib
import json
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced
from sqlalchemy import Delete, Update, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential,
    wait_random,
)

from shared.db import connect_raw, create_sessions, transaction
from shared.logging import get_logger
from shared.outbox import OutboxMessage, notify_channel

log = get_logger(__name__)


def progress_topic(schema: str) -> str:
    """The single-partition topic holding the progress markers of ``schema``'s relay."""
    return f"_outbox-progress.{schema}"


RETRIED: tuple[type[Exception], ...] = (KafkaError, OSError, asyncpg.PostgresError, DBAPIError)
"""Failures the relay retries forever: the broker or the database is away or refused."""

# 0.2 s doubling to 10 s, plus up to 0.2 s so that relays that lost the broker together
# do not come back together.
_backoff = wait_exponential(multiplier=0.2, max=10.0) + wait_random(0, 0.2)


def _transient(exc: BaseException) -> bool:
    # A fenced relay stops: a newer one of its schema has taken over.
    return isinstance(exc, RETRIED) and not isinstance(exc, ProducerFenced)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.warning("outbox.publish_failed", error=repr(exc), retry_in=round(state.upcoming_sleep, 3))


class OutboxRelay:
    """Moves committed outbox rows of one schema to Kafka; one running relay per schema."""

    def __init__(
        self,
        *,
        schema: str,
        engine: AsyncEngine,
        database_url: str,
        bootstrap_servers: str,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        retain_published: bool = True,
    ) -> None:
        self.schema = schema
        self._sessions = create_sessions(engine)
        self._database_url = database_url
        self._bootstrap = bootstrap_servers
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retain = retain_published
        self._progress = TopicPartition(progress_topic(schema), 0)
        self._producer: AIOKafkaProducer | None = None
        self._listener: asyncpg.Connection | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    async def connect(self) -> None:
        """Fence any older relay of this schema and recover its last committed batch."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            transactional_id=f"outbox-relay.{self.schema}",
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            client_id=f"{self.schema}-outbox-relay",
        )
        await self._producer.start()
        await self.recover()

    async def start(self) -> None:
        """Connect, then publish in the background, woken by NOTIFY or the poll interval."""
        await self.connect()
        self._listener = await connect_raw(self._database_url, self.schema)
        await self._listener.add_listener(notify_channel(self.schema), self._on_notify)
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay.{self.schema}")

    async def stop(self) -> None:
        """Stop after the batch in flight, if any."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener:
            await self._listener.close()
        if self._producer:
            await self._producer.stop()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def recover(self) -> int:
        """Mark as published the rows of the last committed batch; return how many."""
        ids = await self._last_committed_batch()
        if not ids:
            return 0
        async with transaction(self._sessions) as session:
            result = await session.execute(self._settle(ids, pending_only=True))
        recovered = int(result.rowcount or 0)  # type: ignore[attr-defined]
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
        """Publish one batch of pending rows in one Kafka transaction; return its size."""
        assert self._producer is not None, "start() the relay first"
        async with transaction(self._sessions) as session:
            rows = (
                (
                    await session.execute(
                        select(OutboxMessage)
                        .where(OutboxMessage.published_at.is_(None))  # type: ignore[union-attr]
                        .order_by(OutboxMessage.id)  # type: ignore[arg-type]
                        .limit(self._batch_size)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                return 0
            ids = [row.id for row in rows if row.id is not None]
            async with self._producer.transaction():
                for row in rows:
                    headers = [(k, v.encode()) for k, v in row.headers.items()]
                    headers.append(("content-type", b"application/json"))
                    headers.append(("event-id", str(row.event_id).encode()))
                    await self._producer.send(
                        row.topic, value=row.value.encode(), key=row.key.encode(), headers=headers
                    )
                await self._producer.send(
                    self._progress.topic,
                    value=json.dumps({"ids": ids}).encode(),
                    key=self.schema.encode(),
                    partition=0,
                )
            await self.after_kafka_commit(ids)
            await session.execute(self._settle(ids))
        self.published += len(ids)
        return len(ids)

    def _settle(self, ids: list[int], *, pending_only: bool = False) -> Update | Delete:
        """Mark published rows, or delete them when the schema keeps no copy of its events."""
        where = [OutboxMessage.id.in_(ids)]  # type: ignore[union-attr]
        if pending_only:
            where.append(OutboxMessage.published_at.is_(None))  # type: ignore[union-attr]
        if not self._retain:
            return delete(OutboxMessage).where(*where)
        return update(OutboxMessage).where(*where).values(published_at=datetime.now(UTC))

    async def after_kafka_commit(self, ids: list[int]) -> None:
        """Called between the Kafka commit and the database update; a seam for fault tests."""

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
                count: int = await retrying(self.publish_pending)
            except ProducerFenced:
                log.error("outbox.relay_fenced", detail="another relay of this service took over")
                return
            if count < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
