"""Kafka side of the audit service: what it consumes and what it publishes.

``data.accessed`` is consumed in batches: each batch is decoded record by record
(``records.decode``; what does not decode goes to the DLQ with the reason), appended to
the log in one database transaction, and only then are the offsets committed. A
consumer killed mid-batch is handed the batch again and the log's unique event ids turn
the copies away.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, TypeVar

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy, Context
from faststream.kafka import KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.message import StreamMessage
from pydantic import ValidationError

from services.audit import records, service
from shared import events
from shared.app import Runtime
from shared.db import Sessions
from shared.kafka import consumer_options, dead_letter_record, describe, is_transient
from shared.logging import get_logger

log = get_logger(__name__)
EventT = TypeVar("EventT", bound=events.Envelope)
CLOSE_SECONDS = 10.0
"""How long a stopping service waits for the batch it is writing."""


async def raw_bodies(message: StreamMessage[Any]) -> list[bytes]:
    """Leave each record's bytes as they are: the handler parses them one by one."""
    return list(message.body)


async def parse(
    message: StreamMessage[Any], event_type: type[EventT], runtime: Runtime
) -> list[EventT]:
    """The batch's records that parse as ``event_type``; the others go to the DLQ."""
    parsed: list[EventT] = []
    for record in message.raw_message:
        try:
            parsed.append(event_type.model_validate_json(record.value or b""))
        except (ValidationError, ValueError) as exc:
            await dead_letter_record(runtime.broker, record, reason=describe(exc))
    return parsed


class Writer:
    """Writes prepared batches to the log one after another, and commits each batch's
    offsets only once the batch is in the log.

    The write runs in the background so that the next batch is read, decoded and hashed
    while the database takes this one; before that one starts, this one has finished.
    A crash loses only uncommitted offsets: the batches come again and the log's unique
    event ids turn the copies away.
    """

    def __init__(self, sessions: Sessions, audit_log: service.AuditLog) -> None:
        self.sessions = sessions
        self.audit_log = audit_log
        self._writing: asyncio.Task[None] | None = None

    async def submit(
        self, ready: service.Prepared, consumer: Any, consumed: Sequence[ConsumerRecord[Any, Any]]
    ) -> None:
        """Wait for the batch before, then start writing this one."""
        offsets: dict[TopicPartition, int] = {}
        for record in consumed:
            partition = TopicPartition(record.topic, record.partition)
            offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
        await self.drain()
        self._writing = asyncio.create_task(self._write(ready, consumer, offsets))

    async def drain(self) -> None:
        """Wait until the batch being written is in the log."""
        if self._writing is not None:
            await self._writing
            self._writing = None

    async def close(self) -> None:
        """Let the write in flight finish, or give it up after ``CLOSE_SECONDS``."""
        if self._writing is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._writing, CLOSE_SECONDS)

    async def _write(
        self, ready: service.Prepared, consumer: Any, offsets: dict[TopicPartition, int]
    ) -> None:
        delay = 0.2
        while True:  # the offsets wait until the batch is in the log
            try:
                await service.write(self.sessions, self.audit_log, ready)
                break
            except Exception as exc:
                event = "audit.append_retry" if is_transient(exc) else "audit.append_failed"
                log.warning(event, error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # e.g. a rebalance took the partitions away meanwhile
            log.warning("audit.commit_failed", error=repr(exc), offsets=len(offsets))


def build_router(group: str, batch_size: int) -> KafkaRouter:
    """Subscribers in consumer group ``group`` (the service's schema name)."""
    router = KafkaRouter()
    router.publisher(
        events.AUDIT_VIOLATION_DETECTED,
        schema=events.EVENT_BY_TOPIC[events.AUDIT_VIOLATION_DETECTED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )

    @router.subscriber(
        events.DATA_ACCESSED,
        batch=True,
        max_records=batch_size,
        batch_timeout_ms=50,
        decoder=raw_bodies,
        **{**consumer_options(group, events.DATA_ACCESSED), "ack_policy": AckPolicy.MANUAL},
        description="Offsets are committed by the log's writer, once the batch is in the log.",
    )
    async def on_data_accessed(
        bodies: list[bytes],
        message: KafkaMessage = Context("message"),
        runtime: Runtime = Context("runtime"),
    ) -> None:
        batch: list[records.Access] = []
        for n, record in enumerate(message.raw_message, 1):
            try:
                batch.append(records.decode(record.value or b""))
            except records.InvalidRecord as exc:
                await dead_letter_record(runtime.broker, record, reason=str(exc))
            if n % service.STEP == 0:
                await asyncio.sleep(0)  # the write in flight takes its next step
        writer: Writer = runtime.extras["writer"]
        ready = await service.prepare(batch)
        await writer.submit(ready, message.consumer, message.raw_message)

    def consent_subscriber(topic: str, event_type: type[events.Envelope]) -> None:
        # Batched too: a new replica reads the whole consent history before it can judge.
        @router.subscriber(
            topic,
            batch=True,
            max_records=batch_size,
            batch_timeout_ms=50,
            decoder=raw_bodies,
            **consumer_options(group, topic),
        )
        async def on_consent_changes(
            bodies: list[bytes],
            message: StreamMessage[Any] = Context("message"),
            runtime: Runtime = Context("runtime"),
        ) -> None:
            changes = await parse(message, event_type, runtime)
            await service.record_consents(runtime.sessions, changes)  # type: ignore[arg-type]

    consent_subscriber(events.CONSENT_GRANTED, events.ConsentGranted)
    consent_subscriber(events.CONSENT_WITHDRAWN, events.ConsentWithdrawn)

    @router.subscriber(events.USER_ERASED, **consumer_options(group, events.USER_ERASED))
    async def on_user_erased(
        event: events.UserErased, runtime: Runtime = Context("runtime")
    ) -> None:
        await service.erase(runtime.sessions, event)

    return router
