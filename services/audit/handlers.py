"""Kafka side of the audit service: what it consumes and what it publishes.

``data.accessed`` is consumed in batches and handed to the ingestion stages
(``ingest.py``): the reader, then the writer, which commits the offsets once a batch
is in the log.
"""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from faststream import AckPolicy, Context
from faststream.kafka import KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.message import StreamMessage
from pydantic import ValidationError

from services.audit import records, service
from services.audit.bootstrap import AuditRuntime
from shared import events
from shared.app import Runtime
from shared.kafka import MalformedEvent, consumer_options, dead_letter_record, describe
from shared.logging import get_logger

log = get_logger(__name__)
EventT = TypeVar("EventT", bound=events.Envelope)
LINKED_RECORDS = 128
"""Records of a batch whose trace context its span is given: OpenTelemetry keeps the
last 128 links of a span (its default limit) and drops the others, yet FastStream's
telemetry extracted context and baggage from every record of a batch of 5,000 first
(measured: a fifth of the event loop's time)."""


async def last_headers_only(
    records: tuple[ConsumerRecord[Any, Any], ...],
    original: Callable[[tuple[ConsumerRecord[Any, Any], ...]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's parsing, with only the last ``LINKED_RECORDS`` records' headers left
    for its telemetry: the links a span keeps are the same."""
    message = await original(records)
    message.batch_headers = message.batch_headers[-LINKED_RECORDS:]
    return message


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
            event = event_type.model_validate_json(record.value or b"")
        except (ValidationError, ValueError) as exc:
            await dead_letter_record(runtime.broker, record, reason=describe(exc))
            continue
        if missing := records.unsent(event):
            reason = f"invalid event: {missing}: Field required"
            await dead_letter_record(runtime.broker, record, reason=reason)
            continue
        parsed.append(event)
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
        batch_timeout_ms=20,
        parser=last_headers_only,
        decoder=raw_bodies,
        **{**consumer_options(group, events.DATA_ACCESSED), "ack_policy": AckPolicy.MANUAL},
        description="Offsets are committed by the log's writer, once the batch is in the log.",
    )
    async def on_data_accessed(
        bodies: list[bytes],
        message: KafkaMessage = Context("message"),
        runtime: AuditRuntime = Context("runtime"),
    ) -> None:
        consumed = message.raw_message
        try:
            done = await runtime.reader.read(bodies)
            for index, reason in done.refused:
                await dead_letter_record(runtime.broker, consumed[index], reason=reason)
            await runtime.writer.submit(done.ready, message.consumer, consumed)
        except BaseException:
            # Offsets are the writer's to commit (the manual policy): a batch that did
            # not reach it is read again, or a later commit would pass over it.
            await message.nack()
            raise

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
            runtime: AuditRuntime = Context("runtime"),
        ) -> None:
            changes = await parse(message, event_type, runtime)
            await service.record_consents(runtime.sessions, changes)  # type: ignore[arg-type]

    consent_subscriber(events.CONSENT_GRANTED, events.ConsentGranted)
    consent_subscriber(events.CONSENT_WITHDRAWN, events.ConsentWithdrawn)

    @router.subscriber(events.USER_ERASED, **consumer_options(group, events.USER_ERASED))
    async def on_user_erased(
        event: events.UserErased, runtime: AuditRuntime = Context("runtime")
    ) -> None:
        if missing := records.unsent(event):
            raise MalformedEvent(f"invalid event: {missing}: Field required")
        await service.erase(runtime.sessions, event)

    return router
