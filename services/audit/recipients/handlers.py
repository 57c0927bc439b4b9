"""Kafka side of recipient notices: the person's rights as the registry reports them, and
the notifier's outcomes; the requests and escalations leave through the outbox (the
audit's ``topics.py`` lists them)."""

import json

from faststream import Context
from faststream.kafka import KafkaRouter

from services.audit.bootstrap import AuditRuntime
from services.audit.recipients import domain, service
from shared import events
from shared.kafka import Batch, subscribe_batch, subscriber
from shared.settings import ServiceSettings

OUTCOME_BATCH = 500
"""Outcomes read at a time: the topics carry every kind of notice, most of them not ours."""


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


Outcome = events.NotificationDelivered | events.NotificationFailed


async def on_notice_outcomes(batch: Batch[Outcome], runtime: AuditRuntime) -> None:
    """Keep the outcomes of the recipient notices."""
    await service.record_outcomes(runtime.sessions, batch.events)


def _notice_id(outcome: Outcome) -> None:
    domain.parse_notice_id(outcome.payload.notice_id)  # raises ValueError: dead-lettered


def subscribe(router: KafkaRouter, settings: ServiceSettings) -> None:
    """Add the notices' subscribers to the audit's router (``user.erased`` has one
    subscriber already, the log's, which calls :func:`on_user_erased`)."""

    @subscriber(router, settings, events.USER_UPDATED)
    async def on_user_updated(
        event: events.UserUpdated, runtime: AuditRuntime = Context("runtime")
    ) -> None:
        await service.record(runtime.sessions, runtime.recipients_clock, runtime.settings, event)

    @subscriber(router, settings, events.USER_RESTRICTION_CHANGED)
    async def on_user_restriction_changed(
        event: events.UserRestrictionChanged, runtime: AuditRuntime = Context("runtime")
    ) -> None:
        await service.record(runtime.sessions, runtime.recipients_clock, runtime.settings, event)

    outcomes: tuple[tuple[str, type[Outcome]], ...] = (
        (events.NOTIFICATION_DELIVERED, events.NotificationDelivered),
        (events.NOTIFICATION_FAILED, events.NotificationFailed),
    )
    for topic, event_type in outcomes:
        subscribe_batch(
            router,
            settings,
            topic,
            event_type,
            on_notice_outcomes,
            max_records=OUTCOME_BATCH,
            accept=_ours,
            check=_notice_id,
        )
