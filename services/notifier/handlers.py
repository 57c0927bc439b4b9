"""Kafka side of the notifier service: what it consumes and what it publishes.

Requests (breach notices to people, recipient notices to organisations) are consumed
in batches and handed to the dispatcher (``service/sending.py``), which claims them,
sends them and commits each batch's offsets once every outcome in it is recorded. The
user and organisation events that keep the contact directory are consumed in batches
too. The publishers below document the events this
service emits (they appear in its AsyncAPI document); the events themselves leave
through the outbox relay.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiokafka import ConsumerRecord, TopicPartition
from faststream import AckPolicy, Context
from faststream.kafka import KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.message import StreamMessage
from pydantic import ValidationError

from services.notifier.bootstrap import NotifierRuntime
from services.notifier.config import NotifierSettings
from services.notifier.domain import Notice
from services.notifier.service import contacts
from services.notifier.service.notices import notice_of, recipient_notice_of
from shared import events
from shared.app import Runtime
from shared.kafka import consumer_options, dead_letter_record, describe

EventT = TypeVar("EventT", bound=events.Envelope)
RequestT = TypeVar(
    "RequestT", events.BreachNotificationRequested, events.RecipientNotificationRequested
)

PUBLISHED = (
    events.NOTIFICATION_DELIVERED,
    events.NOTIFICATION_FAILED,
    events.SMTP_UNAVAILABLE,
    events.SMTP_RECOVERED,
)
CONSUMED = (
    events.BREACH_NOTIFICATION_REQUESTED,
    events.RECIPIENT_NOTIFICATION_REQUESTED,
    events.USER_REGISTERED,
    events.USER_UPDATED,
    events.USER_ERASED,
    events.ORGANISATION_REGISTERED,
    events.ORGANISATION_UPDATED,
    events.ORGANISATION_RETIRED,
)


async def raw_bodies(message: StreamMessage[Any]) -> list[bytes]:
    """Leave each record's bytes as they are: the handler parses them one by one."""
    return list(message.body)


async def parse(
    records: Sequence[ConsumerRecord[Any, Any]], event_type: type[EventT], runtime: Runtime
) -> list[tuple[ConsumerRecord[Any, Any], EventT]]:
    """The records that parse as ``event_type``; the others go to the DLQ."""
    parsed = []
    for record in records:
        try:
            parsed.append((record, event_type.model_validate_json(record.value or b"")))
        except (ValidationError, ValueError) as exc:
            await dead_letter_record(runtime.broker, record, reason=describe(exc))
    return parsed


def next_offsets(records: Sequence[ConsumerRecord[Any, Any]]) -> dict[TopicPartition, int]:
    """The offsets to commit once ``records`` are done."""
    last: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        last[tp] = max(last.get(tp, -1), record.offset)
    return {tp: offset + 1 for tp, offset in last.items()}


def build_router(settings: NotifierSettings) -> KafkaRouter:
    """Subscribers in consumer groups named after the service's schema."""
    group = settings.schema_name
    router = KafkaRouter()
    for topic in PUBLISHED:
        router.publisher(
            settings.topic(topic),
            schema=events.EVENT_BY_TOPIC[topic],
            description="Published through the outbox relay, in a Kafka transaction.",
        )

    def requests(
        topic: str, event_type: type[RequestT], to_notice: Callable[[RequestT], Notice]
    ) -> None:
        name = settings.topic(topic)

        @router.subscriber(
            name,
            batch=True,
            max_records=settings.batch_size,
            batch_timeout_ms=20,
            decoder=raw_bodies,
            **{**consumer_options(group, name), "ack_policy": AckPolicy.MANUAL},
            description="Offsets are committed once every notice of the batch has its outcome.",
        )
        async def on_notification_requested(
            bodies: list[bytes],
            message: KafkaMessage = Context("message"),
            runtime: NotifierRuntime = Context("runtime"),
        ) -> None:
            consumed = message.raw_message
            consumer: Any = message.consumer
            offsets = next_offsets(consumed)

            async def commit() -> None:
                await consumer.commit(offsets)

            try:
                notices = []
                for record, event in await parse(consumed, event_type, runtime):
                    kind = event.payload.kind
                    if kind not in runtime.templates.languages:
                        reason = f"no templates for kind '{kind}'"
                        await dead_letter_record(runtime.broker, record, reason=reason)
                        continue
                    notices.append(to_notice(event))
                await runtime.dispatcher.submit(notices, commit, lane=name)
            except BaseException:
                # Offsets are the dispatcher's to commit (the manual policy): a batch that
                # did not reach it is read again, or a later commit would pass over it.
                await message.nack()
                raise

    requests(events.BREACH_NOTIFICATION_REQUESTED, events.BreachNotificationRequested, notice_of)
    requests(
        events.RECIPIENT_NOTIFICATION_REQUESTED,
        events.RecipientNotificationRequested,
        functools.partial(recipient_notice_of, audit_url=settings.audit_api_url),
    )

    def users(topic: str, event_type: type[events.Envelope]) -> None:
        name = settings.topic(topic)

        @router.subscriber(
            name,
            batch=True,
            max_records=settings.batch_size,
            batch_timeout_ms=20,
            decoder=raw_bodies,
            **consumer_options(group, name),
        )
        async def on_user_events(
            bodies: list[bytes],
            message: KafkaMessage = Context("message"),
            runtime: NotifierRuntime = Context("runtime"),
        ) -> None:
            parsed = [e for _, e in await parse(message.raw_message, event_type, runtime)]
            await contacts.apply(runtime.sessions, parsed)

    users(events.USER_REGISTERED, events.UserRegistered)
    users(events.USER_UPDATED, events.UserUpdated)
    users(events.USER_ERASED, events.UserErased)

    def organisations(topic: str, event_type: type[events.Envelope]) -> None:
        name = settings.topic(topic)

        @router.subscriber(
            name,
            batch=True,
            max_records=settings.batch_size,
            batch_timeout_ms=20,
            decoder=raw_bodies,
            **consumer_options(group, name),
        )
        async def on_organisation_events(
            bodies: list[bytes],
            message: KafkaMessage = Context("message"),
            runtime: NotifierRuntime = Context("runtime"),
        ) -> None:
            parsed = [e for _, e in await parse(message.raw_message, event_type, runtime)]
            await contacts.apply_organisations(runtime.sessions, parsed)

    organisations(events.ORGANISATION_REGISTERED, events.OrganisationRegistered)
    organisations(events.ORGANISATION_UPDATED, events.OrganisationUpdated)
    organisations(events.ORGANISATION_RETIRED, events.OrganisationRetired)
    return router
