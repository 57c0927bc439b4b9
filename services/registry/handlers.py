"""Kafka side of the registry: what it consumes and what it publishes.

The publishers below document the events this service emits (they appear in its
AsyncAPI document); the events themselves leave through the outbox relay.
"""

from faststream import Context
from faststream.kafka import KafkaRouter

from services.registry import profiles
from services.registry.bootstrap import RegistryRuntime
from shared import events
from shared.kafka import consumer_options

PUBLISHED = (
    events.USER_REGISTERED,
    events.USER_UPDATED,
    events.USER_ERASED,
    events.USER_RESTRICTION_CHANGED,
    events.PROFILE_PUBLISHED,
    events.PROFILE_UNPUBLISHED,
    events.DATA_ACCESSED,
)


def build_router(group: str) -> KafkaRouter:
    """Subscribers in consumer group ``group`` (the service's schema name)."""
    router = KafkaRouter()
    for topic in PUBLISHED:
        router.publisher(
            topic,
            schema=events.EVENT_BY_TOPIC[topic],
            description="Published through the outbox relay, in a Kafka transaction.",
        )

    @router.subscriber(events.CONSENT_GRANTED, **consumer_options(group, events.CONSENT_GRANTED))
    async def on_consent_granted(
        event: events.ConsentGranted, runtime: RegistryRuntime = Context("runtime")
    ) -> None:
        """Keep a new visibility consent."""
        await profiles.handle_consent_changed(
            runtime.sessions, runtime.clock, event, events.CONSENT_GRANTED
        )

    @router.subscriber(
        events.CONSENT_WITHDRAWN, **consumer_options(group, events.CONSENT_WITHDRAWN)
    )
    async def on_consent_withdrawn(
        event: events.ConsentWithdrawn, runtime: RegistryRuntime = Context("runtime")
    ) -> None:
        """Keep a withdrawal; the last one in force takes the profile down."""
        await profiles.handle_consent_changed(
            runtime.sessions, runtime.clock, event, events.CONSENT_WITHDRAWN
        )

    return router
