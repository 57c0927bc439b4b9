"""Kafka side of the notifier service: what it consumes and what it publishes.

The publishers below document the events this service emits (they appear in its
AsyncAPI document); the events themselves leave through the outbox relay.
"""

from faststream.kafka import KafkaRouter

from shared import events

PUBLISHED = (
    events.NOTIFICATION_DELIVERED,
    events.NOTIFICATION_FAILED,
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
    return router
