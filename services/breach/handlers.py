"""Kafka side of the breach service: what it consumes and what it publishes.

The publishers below document the events this service emits (they appear in its
AsyncAPI document); the events themselves leave through the outbox relay.
"""

from typing import Any

from faststream import Context
from faststream.kafka import KafkaRouter
from faststream.message import StreamMessage
from pydantic import ValidationError

from services.breach import evidence
from services.breach.bootstrap import BreachRuntime
from shared import events
from shared.kafka import consumer_options, dead_letter_record, describe

PUBLISHED = (
    events.BREACH_DETECTED,
    events.BREACH_NOTIFICATION_REQUESTED,
    events.BREACH_DEADLINE_WARNING,
    events.BREACH_DEADLINE_MISSED,
)

OUTCOME_BATCH = 500
"""Notice outcomes applied in one transaction, at most."""


async def _raw_bodies(message: StreamMessage[Any]) -> list[bytes]:
    """Leave each record's bytes as they are: the handler reads them one by one."""
    return list(message.body)


def build_router(group: str) -> KafkaRouter:
    """Subscribers in consumer group ``group`` (the service's schema name)."""
    router = KafkaRouter()
    for topic in PUBLISHED:
        router.publisher(
            topic,
            schema=events.EVENT_BY_TOPIC[topic],
            description="Published through the outbox relay, in a Kafka transaction.",
        )

    def outcome_subscriber(
        topic: str, event_type: type[events.NotificationDelivered | events.NotificationFailed]
    ) -> None:
        # Batched: a breach of 100,000 people answers with 100,000 outcomes, applied a
        # batch to a transaction instead of one each.
        @router.subscriber(
            topic,
            batch=True,
            max_records=OUTCOME_BATCH,
            batch_timeout_ms=20,
            decoder=_raw_bodies,
            **consumer_options(group, topic),
        )
        async def on_notification_outcomes(
            bodies: list[bytes],
            message: StreamMessage[Any] = Context("message"),
            runtime: BreachRuntime = Context("runtime"),
        ) -> None:
            batch = []
            for record in message.raw_message:
                try:
                    event = event_type.model_validate_json(record.value or b"")
                    evidence.check(event)
                except (ValidationError, ValueError) as exc:
                    await dead_letter_record(runtime.broker, record, reason=describe(exc))
                    continue
                batch.append(evidence.Reported(event, topic))
            await evidence.on_outcomes(runtime.sessions, batch)

    outcome_subscriber(events.NOTIFICATION_DELIVERED, events.NotificationDelivered)
    outcome_subscriber(events.NOTIFICATION_FAILED, events.NotificationFailed)

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
