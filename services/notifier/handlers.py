"""Kafka side of the notifier service: what it consumes, and the publishers that document
what it publishes (they appear in its AsyncAPI document; the events themselves leave
through the outbox relay). The topics are listed in ``topics.py``.

Requests (breach notices to people, recipient notices to organisations) are consumed
in batches and handed to the dispatcher (``service/sending.py``), which claims them,
sends them and commits each batch's offsets once every outcome in it is recorded. The
user and organisation events that keep the contact directory are consumed in batches
too.
"""

import functools
from collections.abc import Callable
from typing import TypeVar

from faststream.kafka import KafkaRouter

from services.notifier import topics
from services.notifier.bootstrap import NotifierRuntime
from services.notifier.config import NotifierSettings
from services.notifier.domain import Notice
from services.notifier.service import contacts
from services.notifier.service.notices import notice_of, recipient_notice_of
from shared import events
from shared.kafka import Batch, publishers, subscribe_batch

RequestT = TypeVar(
    "RequestT", events.BreachNotificationRequested, events.RecipientNotificationRequested
)


async def _requested(
    batch: Batch[RequestT], runtime: NotifierRuntime, to_notice: Callable[[RequestT], Notice]
) -> None:
    notices = []
    for record, event in zip(batch.records, batch.events, strict=True):
        kind = event.payload.kind
        if kind not in runtime.templates.languages:
            await batch.dead_letter(record, f"no templates for kind '{kind}'")
            continue
        notices.append(to_notice(event))
    # The dispatcher commits the batch's offsets once every notice has its outcome.
    await runtime.dispatcher.submit(notices, batch.commit, lane=batch.topic)


async def on_user_events(batch: Batch[events.Envelope], runtime: NotifierRuntime) -> None:
    """Keep the contact directory: a batch of user events in one transaction."""
    await contacts.apply(runtime.sessions, batch.events)


async def on_organisation_events(batch: Batch[events.Envelope], runtime: NotifierRuntime) -> None:
    """Keep the organisations' privacy contacts: a batch in one transaction."""
    await contacts.apply_organisations(runtime.sessions, batch.events)


def build_router(settings: NotifierSettings) -> KafkaRouter:
    """Subscribers in consumer groups named after the service's schema, on its topics."""
    router = KafkaRouter()
    publishers(router, settings, topics.PUBLISHED)

    async def on_breach_notification_requested(
        batch: Batch[events.BreachNotificationRequested], runtime: NotifierRuntime
    ) -> None:
        await _requested(batch, runtime, notice_of)

    recipient_notice = functools.partial(recipient_notice_of, audit_url=settings.audit_api_url)

    async def on_recipient_notification_requested(
        batch: Batch[events.RecipientNotificationRequested], runtime: NotifierRuntime
    ) -> None:
        await _requested(batch, runtime, recipient_notice)

    requests = "Offsets are committed once every notice of the batch has its outcome."
    subscribe_batch(
        router,
        settings,
        events.BREACH_NOTIFICATION_REQUESTED,
        events.BreachNotificationRequested,
        on_breach_notification_requested,
        max_records=settings.batch_size,
        commits=False,
        description=requests,
    )
    subscribe_batch(
        router,
        settings,
        events.RECIPIENT_NOTIFICATION_REQUESTED,
        events.RecipientNotificationRequested,
        on_recipient_notification_requested,
        max_records=settings.batch_size,
        commits=False,
        description=requests,
    )
    user_events: tuple[tuple[str, type[events.Envelope]], ...] = (
        (events.USER_REGISTERED, events.UserRegistered),
        (events.USER_UPDATED, events.UserUpdated),
        (events.USER_ERASED, events.UserErased),
    )
    for topic, event_type in user_events:
        subscribe_batch(
            router, settings, topic, event_type, on_user_events, max_records=settings.batch_size
        )
    organisation_events: tuple[tuple[str, type[events.Envelope]], ...] = (
        (events.ORGANISATION_REGISTERED, events.OrganisationRegistered),
        (events.ORGANISATION_UPDATED, events.OrganisationUpdated),
        (events.ORGANISATION_RETIRED, events.OrganisationRetired),
    )
    for topic, event_type in organisation_events:
        subscribe_batch(
            router,
            settings,
            topic,
            event_type,
            on_organisation_events,
            max_records=settings.batch_size,
        )
    return router
