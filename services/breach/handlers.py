"""Kafka side of the breach service: what it consumes and what it publishes.

The publishers below document the events this service emits (they appear in its
AsyncAPI document); the events themselves leave through the outbox relay.
"""

from typing import Any

from faststream.kafka import KafkaRouter

from shared import events

router = KafkaRouter()
publishers: list[Any] = []
publishers.append(
    router.publisher(
        events.BREACH_DETECTED,
        schema=events.EVENT_BY_TOPIC[events.BREACH_DETECTED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
publishers.append(
    router.publisher(
        events.BREACH_NOTIFICATION_REQUESTED,
        schema=events.EVENT_BY_TOPIC[events.BREACH_NOTIFICATION_REQUESTED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
publishers.append(
    router.publisher(
        events.BREACH_DEADLINE_WARNING,
        schema=events.EVENT_BY_TOPIC[events.BREACH_DEADLINE_WARNING],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
publishers.append(
    router.publisher(
        events.BREACH_DEADLINE_MISSED,
        schema=events.EVENT_BY_TOPIC[events.BREACH_DEADLINE_MISSED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
