"""Kafka side of triage: the alerts detection raises, a batch to a transaction (the
triage decisions and escalations leave through the outbox; the breach's ``topics.py``
lists them)."""

from faststream.kafka import KafkaRouter

from services.breach.bootstrap import BreachRuntime
from services.breach.triage import service
from shared import events
from shared.kafka import Batch, subscribe_batch
from shared.settings import ServiceSettings

ALERT_BATCH = 500


async def on_alerts_raised(batch: Batch[events.AlertRaised], runtime: BreachRuntime) -> None:
    """Keep the alerts, each merged into its incident."""
    await service.on_alerts(runtime.sessions, runtime.clock, batch.events)


def subscribe(router: KafkaRouter, settings: ServiceSettings) -> None:
    """Add triage's subscriber to the breach's router."""
    subscribe_batch(
        router,
        settings,
        events.SECURITY_ALERT_RAISED,
        events.AlertRaised,
        on_alerts_raised,
        max_records=ALERT_BATCH,
    )
