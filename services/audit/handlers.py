"""Kafka side of the audit service: what it consumes, and the publishers that document
what it publishes (the topics are listed in ``topics.py``).

``data.accessed`` is consumed in batches and handed to the ingestion stages
(``ingest.py``): the reader, then the writer, which commits the offsets once a batch
is in the log.
"""

from typing import Any

from faststream import Context
from faststream.kafka import KafkaRouter

from services.audit import checks, ingest, records, service, topics
from services.audit.bootstrap import AuditRuntime
from services.audit.config import AuditSettings
from services.audit.recipients import handlers as recipients
from shared import events
from shared.kafka import Batch, MalformedEvent, publishers, subscribe_batch, subscriber


async def on_data_accessed(batch: Batch[Any], runtime: AuditRuntime) -> None:
    """Read the batch's records (the refused ones go to the DLQ) and hand them to the
    log's writer, which commits the offsets once they are in the log."""
    done = await runtime.reader.read(batch.values)
    for index, reason in done.refused:
        await batch.dead_letter(batch.consumed[index], reason)
    await runtime.writer.submit(done.ready, batch.consumer, batch.consumed)


async def on_consent_changes(
    batch: Batch[events.ConsentGranted | events.ConsentWithdrawn], runtime: AuditRuntime
) -> None:
    """Keep the consents the log's disclosures are checked against."""
    await checks.record_consents(runtime.sessions, batch.events)


def build_router(settings: AuditSettings) -> KafkaRouter:
    """Subscribers in consumer groups named after the service's schema, on its topics."""
    router = KafkaRouter()
    publishers(router, settings, topics.PUBLISHED)
    subscribe_batch(
        router,
        settings,
        events.DATA_ACCESSED,
        None,  # read by the ingestion stages themselves, in a thread
        on_data_accessed,
        max_records=settings.ingest_batch_size,
        commits=False,
        parser=ingest.last_headers_only,
        description="Offsets are committed by the log's writer, once the batch is in the log.",
    )
    # Batched too: a new replica reads the whole consent history before it can judge.
    consents: tuple[tuple[str, type[events.ConsentGranted | events.ConsentWithdrawn]], ...] = (
        (events.CONSENT_GRANTED, events.ConsentGranted),
        (events.CONSENT_WITHDRAWN, events.ConsentWithdrawn),
    )
    for topic, event_type in consents:
        subscribe_batch(
            router,
            settings,
            topic,
            event_type,
            on_consent_changes,
            max_records=settings.ingest_batch_size,
            timeout_ms=50,
            check=ingest.complete,
        )

    @subscriber(router, settings, events.USER_ERASED)
    async def on_user_erased(
        event: events.UserErased, runtime: AuditRuntime = Context("runtime")
    ) -> None:
        if missing := records.unsent(event):
            raise MalformedEvent(f"invalid event: {missing}: Field required")
        await service.erase(runtime.sessions, event)
        await recipients.on_user_erased(runtime, event)

    recipients.subscribe(router, settings)
    return router
