"""Kafka side of the registry: what it consumes, and the publishers that document what
it publishes (they appear in its AsyncAPI document; the events themselves leave through
the outbox relay). The topics are listed in ``topics.py``."""

from faststream import Context
from faststream.kafka import KafkaRouter

from services.registry import profiles, topics
from services.registry.bootstrap import RegistryRuntime
from services.registry.config import RegistrySettings
from shared import events
from shared.kafka import publishers, subscriber


def build_router(settings: RegistrySettings) -> KafkaRouter:
    """Subscribers in consumer groups named after the service's schema, on its topics."""
    router = KafkaRouter()
    publishers(router, settings, topics.PUBLISHED)
    granted = settings.topic(events.CONSENT_GRANTED)
    withdrawn = settings.topic(events.CONSENT_WITHDRAWN)

    @subscriber(router, settings, events.CONSENT_GRANTED)
    async def on_consent_granted(
        event: events.ConsentGranted, runtime: RegistryRuntime = Context("runtime")
    ) -> None:
        """Keep a new visibility consent."""
        await profiles.handle_consent_changed(runtime.sessions, runtime.clock, event, granted)

    @subscriber(router, settings, events.CONSENT_WITHDRAWN)
    async def on_consent_withdrawn(
        event: events.ConsentWithdrawn, runtime: RegistryRuntime = Context("runtime")
    ) -> None:
        """Keep a withdrawal; the last one in force takes the profile down."""
        await profiles.handle_consent_changed(runtime.sessions, runtime.clock, event, withdrawn)

    return router
