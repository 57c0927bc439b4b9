"""Kafka side of recipient notices: the person's rights as the registry reports them, and
the notifier's outcomes; the requests and escalations leave through the outbox."""

import json
from typing import Any

from faststream import Context
from faststream.kafka import KafkaRouter
from faststream.message import StreamMessage
from pydantic import ValidationError

from services.audit.bootstrap import AuditRuntime
from services.audit.recipients import domain, service
from shared import events
from shared.kafka import consumer_options, dead_letter_record, describe

PUBLISHED = (events.RECIPIENT_NOTIFICATION_REQUESTED, events.RECIPIENT_REQUEST_ESCALATED)
OUTCOME_BATCH = 500
"""Outcomes read at a time: the topics carry every kind of notice, most of them not ours."""


async def _raw_bodies(message: StreamMessage[Any]) -> list[bytes]:
    return list(message.body)


def _ours(value: bytes) -> bool:
    """Whether a record claims to be the outcome of a recipient notice. Only those are
    judged (and dead-lettered when malformed) here: the other kinds, and what cannot be
    read at all, are the business of the consumers of those kinds (the breach service),
    which would otherwise see the same record dead-lettered twice."""
    try:
        body = json.loads(value)
    except ValueError:
        return False
    payload = body.get("payload") if isinstance(body, dict) else None
    return isinstance(payload, dict) and payload.get("kind") == events.RECIPIENT_NOTICE_KIND


async def on_user_erased(runtime: AuditRuntime, event: events.UserErased) -> None:
    """Remember an erasure, to ask its recipients once it has settled."""
    await service.record(runtime.sessions, runtime.recipients_clock, runtime.settings, event)


def subscribe(router: KafkaRouter, group: str) -> None:
    """Add the notices' publishers and subscribers to the audit's router (``user.erased``
    has one subscriber already, the log's, which calls :func:`on_user_erased`)."""
    for topic in PUBLISHED:
        router.publisher(
            topic,
            schema=events.EVENT_BY_TOPIC[topic],
            description="Published through the outbox relay, in a Kafka transaction.",
        )

    @router.subscriber(events.USER_UPDATED, **consumer_options(group, events.USER_UPDATED))
    async def on_user_updated(
        event: events.UserUpdated, runtime: AuditRuntime = Context("runtime")
    ) -> None:
        await service.record(runtime.sessions, runtime.recipients_clock, runtime.settings, event)

    @router.subscriber(
        events.USER_RESTRICTION_CHANGED,
        **consumer_options(group, events.USER_RESTRICTION_CHANGED),
    )
    async def on_user_restriction_changed(
        event: events.UserRestrictionChanged, runtime: AuditRuntime = Context("runtime")
    ) -> None:
        await service.record(runtime.sessions, runtime.recipients_clock, runtime.settings, event)

    def outcome_subscriber(
        topic: str, event_type: type[events.NotificationDelivered | events.NotificationFailed]
    ) -> None:
        @router.subscriber(
            topic,
            batch=True,
            max_records=OUTCOME_BATCH,
            batch_timeout_ms=20,
            decoder=_raw_bodies,
            **consumer_options(group, topic),
        )
        async def on_notice_outcomes(
            bodies: list[bytes],
            message: StreamMessage[Any] = Context("message"),
            runtime: AuditRuntime = Context("runtime"),
        ) -> None:
            ours: list[events.NotificationDelivered | events.NotificationFailed] = []
            for record in message.raw_message:
                if not _ours(record.value or b""):
                    continue  # a breach notice's, or another kind's: its own consumer judges it
                try:
                    outcome = event_type.model_validate_json(record.value or b"")
                    domain.parse_notice_id(outcome.payload.notice_id)
                except (ValidationError, ValueError) as exc:
                    await dead_letter_record(runtime.broker, record, reason=describe(exc))
                    continue
                ours.append(outcome)
            if ours:
                await service.record_outcomes(runtime.sessions, ours)

    outcome_subscriber(events.NOTIFICATION_DELIVERED, events.NotificationDelivered)
    outcome_subscriber(events.NOTIFICATION_FAILED, events.NotificationFailed)
