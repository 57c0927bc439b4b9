"""Kafka side of the detection service: disclosures, the audit check's violations and
the grants, read in batches; the security team's triage decisions; the publisher of
``security.alert_raised`` (which leaves through the outbox relay)."""

from faststream import Context
from faststream.kafka import KafkaRouter

from services.detection import service, topics
from services.detection.bootstrap import DetectionRuntime
from services.detection.config import DetectionSettings
from shared import events
from shared.kafka import Batch, publishers, subscribe_batch, subscriber

GRANT_BATCH = 500


async def on_data_accessed(batch: Batch[events.DataAccessed], runtime: DetectionRuntime) -> None:
    """Count and judge a batch of disclosures."""
    await service.on_disclosures(runtime.sessions, runtime.watch, runtime.clock, batch.events)


async def on_violations(batch: Batch[events.ViolationDetected], runtime: DetectionRuntime) -> None:
    """Cluster the audit check's violations by organisation and hour."""
    await service.on_violations(runtime.sessions, runtime.watch, runtime.clock, batch.events)


Grant = events.AccessGrantCreated | events.AccessGrantRevoked


async def on_grants(batch: Batch[Grant], runtime: DetectionRuntime) -> None:
    """Keep the grants reads are judged against."""
    await service.on_grants(runtime.sessions, runtime.watch, batch.events)


def build_router(settings: DetectionSettings) -> KafkaRouter:
    """Subscribers in consumer groups named after the service's schema, on its topics."""
    router = KafkaRouter()
    publishers(router, settings, topics.PUBLISHED)
    subscribe_batch(
        router,
        settings,
        events.DATA_ACCESSED,
        events.DataAccessed,
        on_data_accessed,
        max_records=settings.batch_size,
    )
    subscribe_batch(
        router,
        settings,
        events.AUDIT_VIOLATION_DETECTED,
        events.ViolationDetected,
        on_violations,
        max_records=settings.batch_size,
    )
    grants: tuple[tuple[str, type[Grant]], ...] = (
        (events.ACCESS_GRANT_CREATED, events.AccessGrantCreated),
        (events.ACCESS_GRANT_REVOKED, events.AccessGrantRevoked),
    )
    for topic, grant in grants:
        subscribe_batch(router, settings, topic, grant, on_grants, max_records=GRANT_BATCH)

    @subscriber(router, settings, events.BREACH_INCIDENT_TRIAGED)
    async def on_incident_triaged(
        event: events.IncidentTriaged, runtime: DetectionRuntime = Context("runtime")
    ) -> None:
        await service.on_triaged(runtime.sessions, event)

    return router
