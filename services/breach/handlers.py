"""Kafka side of the breach service: what it consumes and what it publishes.

The publishers below document the events this service emits (they appear in its
AsyncAPI document); the events themselves leave through the outbox relay.
"""

from faststream.kafka import KafkaRouter

from shared import events

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
    return router
