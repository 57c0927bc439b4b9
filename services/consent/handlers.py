"""Kafka side of the consent service: what it consumes, and the publishers that document
what it publishes (they appear in its AsyncAPI document; the events themselves leave
through the outbox relay). The topics are listed in ``topics.py``."""

from faststream import Context
from faststream.kafka import KafkaRouter

from services.consent import service, topics
from services.consent.bootstrap import ConsentRuntime
from services.consent.config import ConsentSettings
from shared import events
from shared.kafka import publishers, subscriber


def build_router(settings: ConsentSettings) -> KafkaRouter:
    """Subscribers in consumer groups named after the service's schema, on its topics."""
    router = KafkaRouter()
    publishers(router, settings, topics.PUBLISHED)
    registered = settings.topic(events.USER_REGISTERED)
    erased = settings.topic(events.USER_ERASED)
    restriction = settings.topic(events.USER_RESTRICTION_CHANGED)

    @subscriber(router, settings, events.USER_REGISTERED)
    async def on_user_registered(
        event: events.UserRegistered, runtime: ConsentRuntime = Context("runtime")
    ) -> None:
        """Record the subject and the consents registering implies."""
        await service.handle_user_registered(
            runtime.sessions, runtime.projection, runtime.clock, event, registered
        )

    @subscriber(router, settings, events.USER_ERASED)
    async def on_user_erased(
        event: events.UserErased, runtime: ConsentRuntime = Context("runtime")
    ) -> None:
        """Forget the erased subject."""
        await service.handle_user_erased(
            runtime.sessions, runtime.projection, runtime.clock, event, erased
        )

    @subscriber(router, settings, events.USER_RESTRICTION_CHANGED)
    async def on_restriction_changed(
        event: events.UserRestrictionChanged, runtime: ConsentRuntime = Context("runtime")
    ) -> None:
        """Deny or allow again every disclosure of the subject."""
        await service.handle_restriction_changed(
            runtime.sessions, runtime.projection, event, restriction
        )

    return router
