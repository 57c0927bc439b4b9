"""Kafka side of the registry service: what it consumes and what it publishes.

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
        events.USER_REGISTERED,
        schema=events.EVENT_BY_TOPIC[events.USER_REGISTERED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
publishers.append(
    router.publisher(
        events.USER_UPDATED,
        schema=events.EVENT_BY_TOPIC[events.USER_UPDATED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
publishers.append(
    router.publisher(
        events.USER_ERASED,
        schema=events.EVENT_BY_TOPIC[events.USER_ERASED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
publishers.append(
    router.publisher(
        events.USER_RESTRICTION_CHANGED,
        schema=events.EVENT_BY_TOPIC[events.USER_RESTRICTION_CHANGED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
publishers.append(
    router.publisher(
        events.PROFILE_PUBLISHED,
        schema=events.EVENT_BY_TOPIC[events.PROFILE_PUBLISHED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
publishers.append(
    router.publisher(
        events.PROFILE_UNPUBLISHED,
        schema=events.EVENT_BY_TOPIC[events.PROFILE_UNPUBLISHED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
publishers.append(
    router.publisher(
        events.DATA_ACCESSED,
        schema=events.EVENT_BY_TOPIC[events.DATA_ACCESSED],
        description="Published through the outbox relay, in a Kafka transaction.",
    )
)
