"""Kafka side of the audit service: what it consumes and what it publishes.

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
        events.AUDIT_VIOLATION_DETECTED,
        schema=events.EVENT_BY_TOPIC[events.AUDIT_VIOLATION_DETECTED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
