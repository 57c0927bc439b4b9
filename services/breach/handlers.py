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
CONSUMED = (
    events.NOTIFICATION_DELIVERED,
    events.NOTIFICATION_FAILED,
    events.USER_REGISTERED,
    events.USER_UPDATED,
    events.USER_ERASED,
    events.SMTP_UNAVAILABLE,
    events.SMTP_RECOVERED,
)

OUTCOME_BATCH = 500
"""Notice outcomes applied in one transaction, at most."""

SUBJECTS_BATCH = 1000
"""Registrations (or moves) applied in one transaction, at most."""


async def _raw_bodies(message: StreamMessage[Any]) -> list[bytes]:
    """Leave each record's bytes as they are: the handler reads them one by one."""
    return list(message.body)


def build_router(group: str, prefix: str = "") -> KafkaRouter:
    """Subscribers in consumer group ``group`` (the service's schema name), on the topics
    named with ``prefix`` before them (``BREACH_TOPIC_PREFIX``)."""
    router = KafkaRouter()
    for topic in PUBLISHED:
        router.publisher(
            f"{prefix}{topic}",
            schema=events.EVENT_BY_TOPIC[topic],
            description="Published through the outbox relay, in a Kafka transaction.",
        )

    def outcome_subscriber(
        topic: str, event_type: type[events.NotificationDelivered | events.NotificationFailed]
    ) -> None:
        # Batched: a breach of 100,000 people answers with 100,000 outcomes, applied a
        # batch to a transaction instead of one each.
        @router.subscriber(
            f"{prefix}{topic}",
            batch=True,
            max_records=OUTCOME_BATCH,
            batch_timeout_ms=20,
            decoder=_raw_bodies,
            **consumer_options(group, f"{prefix}{topic}"),
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

    def subjects_subscriber(
        topic: str, event_type: type[events.UserRegistered | events.UserUpdated]
    ) -> None:
        # Batched: 100,000 people registering are 100,000 events.
        @router.subscriber(
            topic,
            batch=True,
            max_records=SUBJECTS_BATCH,
            batch_timeout_ms=20,
            decoder=_raw_bodies,
            **consumer_options(group, topic),
        )
        async def on_user_events(
            bodies: list[bytes],
            message: StreamMessage[Any] = Context("message"),
            runtime: BreachRuntime = Context("runtime"),
        ) -> None:
            batch = []
            for record in message.raw_message:
                try:
                    batch.append((event_type.model_validate_json(record.value or b""), topic))
                except (ValidationError, ValueError) as exc:
                    await dead_letter_record(runtime.broker, record, reason=describe(exc))
            await evidence.on_subjects(runtime.sessions, batch)

    subjects_subscriber(f"{prefix}{events.USER_REGISTERED}", events.UserRegistered)
    subjects_subscriber(f"{prefix}{events.USER_UPDATED}", events.UserUpdated)

    erased = f"{prefix}{events.USER_ERASED}"

    @router.subscriber(erased, **consumer_options(group, erased))
    async def on_user_erased(
        event: events.UserErased, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_user_erased(runtime.sessions, event, erased)

    unavailable = f"{prefix}{events.SMTP_UNAVAILABLE}"

    @router.subscriber(unavailable, **consumer_options(group, unavailable))
    async def on_smtp_unavailable(
        event: events.SmtpUnavailable, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_mail_server(runtime.sessions, event, unavailable)

    recovered = f"{prefix}{events.SMTP_RECOVERED}"

    @router.subscriber(recovered, **consumer_options(group, recovered))
    async def on_smtp_recovered(
        event: events.SmtpRecovered, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_mail_server(runtime.sessions, event, recovered)

    return router
