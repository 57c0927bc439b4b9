"""Kafka side of the audit service: what it consumes and what it publishes.

``data.accessed`` is consumed in batches: each batch is decoded record by record
(``records.decode``; what does not decode goes to the DLQ with the reason), appended to
the log in one database transaction, and only then are the offsets committed. A
consumer killed mid-batch is handed the batch again and the log's unique event ids turn
the copies away.
"""

import asyncio
from typing import Any, TypeVar

from faststream import Context
from faststream.kafka import KafkaRouter
from faststream.message import StreamMessage
from pydantic import ValidationError

from services.audit import records, service
from shared import events
from shared.app import Runtime
from shared.kafka import consumer_options, dead_letter_record, describe, is_transient
from shared.logging import get_logger

log = get_logger(__name__)
EventT = TypeVar("EventT", bound=events.Envelope)


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
        **consumer_options(group, events.DATA_ACCESSED),
    )
    async def on_data_accessed(
        bodies: list[bytes],
        message: StreamMessage[Any] = Context("message"),
        runtime: Runtime = Context("runtime"),
    ) -> None:
        batch: list[records.Access] = []
        for record in message.raw_message:
            try:
                batch.append(records.decode(record.value or b""))
            except records.InvalidRecord as exc:
                await dead_letter_record(runtime.broker, record, reason=str(exc))
        delay = 0.2
        while True:  # the offsets wait until the batch is in the log
            try:
                await service.append(runtime.sessions, runtime.extras["log"], batch)
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("audit.append_retry", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

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
