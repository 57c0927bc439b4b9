"""Kafka side of the breach service: what it consumes, and the publishers that document
what it publishes (they appear in its AsyncAPI document; the events themselves leave
through the outbox relay). The topics are listed in ``topics.py``.
"""

from faststream import Context
from faststream.kafka import KafkaRouter

from services.breach import evidence, topics
from services.breach.bootstrap import BreachRuntime
from services.breach.config import BreachSettings
from services.breach.triage import handlers as triage
from shared import events
from shared.kafka import Batch, publishers, subscribe_batch, subscriber

OUTCOME_BATCH = 500
"""Notice outcomes applied in one transaction, at most."""

SUBJECTS_BATCH = 1000
"""Registrations (or moves) applied in one transaction, at most."""


Outcome = events.NotificationDelivered | events.NotificationFailed
UserEvent = events.UserRegistered | events.UserUpdated


async def on_notification_outcomes(batch: Batch[Outcome], runtime: BreachRuntime) -> None:
    """Record the outcomes of the breach's notices, a batch to a transaction."""
    reported = [evidence.Reported(event, batch.topic) for event in batch.events]
    await evidence.on_outcomes(runtime.sessions, reported)


async def on_user_events(batch: Batch[UserEvent], runtime: BreachRuntime) -> None:
    """Know new subjects and follow the ones who moved, a batch to a transaction."""
    await evidence.on_subjects(runtime.sessions, [(e, batch.topic) for e in batch.events])


def build_router(settings: BreachSettings) -> KafkaRouter:
    """Subscribers in consumer groups named after the service's schema, on its topics."""
    router = KafkaRouter()
    publishers(router, settings, topics.PUBLISHED)
    # Batched: a breach of 100,000 people answers with 100,000 outcomes, applied a
    # batch to a transaction instead of one each.
    outcomes: tuple[tuple[str, type[Outcome]], ...] = (
        (events.NOTIFICATION_DELIVERED, events.NotificationDelivered),
        (events.NOTIFICATION_FAILED, events.NotificationFailed),
    )
    for topic, outcome in outcomes:
        subscribe_batch(
            router,
            settings,
            topic,
            outcome,
            on_notification_outcomes,
            max_records=OUTCOME_BATCH,
            check=evidence.check,
        )
    # Batched: 100,000 people registering are 100,000 events.
    user_events: tuple[tuple[str, type[UserEvent]], ...] = (
        (events.USER_REGISTERED, events.UserRegistered),
        (events.USER_UPDATED, events.UserUpdated),
    )
    for topic, user_event in user_events:
        subscribe_batch(
            router, settings, topic, user_event, on_user_events, max_records=SUBJECTS_BATCH
        )
    erased = settings.topic(events.USER_ERASED)

    @subscriber(router, settings, events.USER_ERASED)
    async def on_user_erased(
        event: events.UserErased, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_user_erased(runtime.sessions, event, erased)

    unavailable = settings.topic(events.SMTP_UNAVAILABLE)

    @subscriber(router, settings, events.SMTP_UNAVAILABLE)
    async def on_smtp_unavailable(
        event: events.SmtpUnavailable, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_mail_server(runtime.sessions, event, unavailable)

    recovered = settings.topic(events.SMTP_RECOVERED)

    @subscriber(router, settings, events.SMTP_RECOVERED)
    async def on_smtp_recovered(
        event: events.SmtpRecovered, runtime: BreachRuntime = Context("runtime")
    ) -> None:
        await evidence.on_mail_server(runtime.sessions, event, recovered)

    triage.subscribe(router, settings)
    return router
