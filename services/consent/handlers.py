"""Kafka side of the consent service: what it consumes and what it publishes.

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
        events.CONSENT_GRANTED,
        schema=events.EVENT_BY_TOPIC[events.CONSENT_GRANTED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
publishers.append(
    router.publisher(
        events.CONSENT_WITHDRAWN,
        schema=events.EVENT_BY_TOPIC[events.CONSENT_WITHDRAWN],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
