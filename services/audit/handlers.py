"""Kafka side of the audit service: what it consumes and what it publishes.

``data.accessed`` is consumed in batches and handed to the ingestion stages
(``ingest.py``): the reader, then the writer, which commits the offsets once a batch
is in the log.
"""

from typing import Any

from faststream import AckPolicy, Context
from faststream.kafka import KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.message import StreamMessage

from services.audit import checks, ingest, records, service
from services.audit.bootstrap import AuditRuntime
from services.audit.recipients import handlers as recipients
from shared import events
from shared.kafka import MalformedEvent, consumer_options, dead_letter_record
from shared.logging import get_logger

log = get_logger(__name__)


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
        parser=ingest.last_headers_only,
        decoder=ingest.raw_bodies,
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
            decoder=ingest.raw_bodies,
            **consumer_options(group, topic),
        )
        async def on_consent_changes(
            bodies: list[bytes],
            message: StreamMessage[Any] = Context("message"),
            runtime: AuditRuntime = Context("runtime"),
        ) -> None:
            changes = await ingest.parse(message, event_type, runtime)
            await checks.record_consents(runtime.sessions, changes)  # type: ignore[arg-type]

    consent_subscriber(events.CONSENT_GRANTED, events.ConsentGranted)
    consent_subscriber(events.CONSENT_WITHDRAWN, events.ConsentWithdrawn)

    @router.subscriber(events.USER_ERASED, **consumer_options(group, events.USER_ERASED))
    async def on_user_erased(
        event: events.UserErased, runtime: AuditRuntime = Context("runtime")
    ) -> None:
        if missing := records.unsent(event):
            raise MalformedEvent(f"invalid event: {missing}: Field required")
        await service.erase(runtime.sessions, event)
        await recipients.on_user_erased(runtime, event)

    recipients.subscribe(router, group)
    return router
