"""Kafka side of the breach service: what it consumes and what it publishes.

The publishers below document the events this service emits (they appear in its
AsyncAPI document); the events themselves leave through the outbox relay.
"""

from faststream import Context
from faststream.kafka import KafkaRouter

from services.breach import evidence
from services.breach.bootstrap import BreachRuntime
from shared import events
from shared.kafka import consumer_options

PUBLISHED = (
    events.BREACH_DETECTED,
    events.BREACH_NOTIFICATION_REQUESTED,
    events.BREACH_DEADLINE_WARNING,
    events.BREACH_DEADLINE_MISSED,
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

    @router.subscriber(
        events.NOTIFICATION_DELIVERED, **consumer_options(group, events.NOTIFICATION_DELIVERED)
    )
    async def on_notification_delivered(
        event: events.NotificationDelivered, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_outcome(runtime.sessions, event, events.NOTIFICATION_DELIVERED)

    @router.subscriber(
        events.NOTIFICATION_FAILED, **consumer_options(group, events.NOTIFICATION_FAILED)
    )
    async def on_notification_failed(
        event: events.NotificationFailed, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_outcome(runtime.sessions, event, events.NOTIFICATION_FAILED)

    @router.subscriber(events.USER_REGISTERED, **consumer_options(group, events.USER_REGISTERED))
    async def on_user_registered(
        event: events.UserRegistered, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_user_registered(runtime.sessions, event, events.USER_REGISTERED)

    @router.subscriber(events.USER_UPDATED, **consumer_options(group, events.USER_UPDATED))
    async def on_user_updated(
        event: events.UserUpdated, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_user_updated(runtime.sessions, event, events.USER_UPDATED)

    @router.subscriber(events.USER_ERASED, **consumer_options(group, events.USER_ERASED))
    async def on_user_erased(
        event: events.UserErased, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_user_erased(runtime.sessions, event, events.USER_ERASED)

    return router
