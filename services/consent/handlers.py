"""Kafka side of the consent service: what it consumes and what it publishes.

The publishers below document the events this service emits (they appear in its
AsyncAPI document); the events themselves leave through the outbox relay.
"""

from faststream import Context
from faststream.kafka import KafkaRouter

from services.consent import service
from services.consent.bootstrap import ConsentRuntime
from shared import events
from shared.kafka import consumer_options


def build_router(group: str) -> KafkaRouter:
    """Subscribers in consumer group ``group`` (the service's schema name)."""
    router = KafkaRouter()
    for topic in (events.CONSENT_GRANTED, events.CONSENT_WITHDRAWN):
        router.publisher(
            topic,
            schema=events.EVENT_BY_TOPIC[topic],
            description="Published through the outbox relay, in a Kafka transaction.",
        )

    @router.subscriber(events.USER_REGISTERED, **consumer_options(group, events.USER_REGISTERED))
    async def on_user_registered(
        event: events.UserRegistered, runtime: ConsentRuntime = Context("runtime")
    ) -> None:
        """Record the subject and the consents registering implies."""
        await service.handle_user_registered(
            runtime.sessions, runtime.projection, runtime.clock, event, events.USER_REGISTERED
        )

    @router.subscriber(events.USER_ERASED, **consumer_options(group, events.USER_ERASED))
    async def on_user_erased(
        event: events.UserErased, runtime: ConsentRuntime = Context("runtime")
    ) -> None:
        """Forget the erased subject."""
        await service.handle_user_erased(
            runtime.sessions, runtime.projection, runtime.clock, event, events.USER_ERASED
        )

    @router.subscriber(
        events.USER_RESTRICTION_CHANGED, **consumer_options(group, events.USER_RESTRICTION_CHANGED)
    )
    async def on_restriction_changed(
        event: events.UserRestrictionChanged, runtime: ConsentRuntime = Context("runtime")
    ) -> None:
        """Deny or allow again every disclosure of the subject."""
        await service.handle_restriction_changed(
            runtime.sessions,
            runtime.projection,
            event,
            events.USER_RESTRICTION_CHANGED,
        )

    return router
