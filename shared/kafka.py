"""Kafka plumbing shared by the services: topics, consumer defaults, dead letters, inbox,
and the batch subscriber.

Consumers in this project:
- read only committed messages (the outbox relay publishes in transactions);
- process one message at a time and commit its offset only after their database
  transaction has committed (FastStream's NACK_ON_ERROR policy), or a batch at a time
  (:func:`subscribe_batch`), committing the batch's offsets only once its work is done;
- dedupe on ``event_id`` through the ``processed_events`` table, in that same transaction;
- send what cannot be parsed, or what keeps failing, to ``<topic>.dlq`` with the reason
  in its headers, and carry on;
- retry transient failures (database or broker unreachable) forever, with capped
  exponential backoff and jitter (tenacity).
"""

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeAlias, TypeVar, cast
from uuid import UUID

import asyncpg
import structlog
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy, BaseMiddleware, Context
from faststream.kafka import KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.message import StreamMessage
from pydantic import ValidationError
from sqlalchemy import Result, literal_column
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential,
    wait_incrementing,
    wait_random,
)

from shared.events import CATALOGUE, EVENT_BY_TOPIC, Envelope, dlq_topic
from shared.logging import get_logger
from shared.relay import progress_topic
from shared.settings import ServiceSettings

log = get_logger(__name__)

MAX_ATTEMPTS = 5
"""A message that fails this many times for a non-transient reason is dead-lettered."""

TRANSIENT_RETRY_SECONDS = 60.0
"""How long transient failures are retried in place before the message is handed back
to be delivered again: the consumer then polls, and Kafka, which drops a consumer that
has not polled for ``max_poll_interval_ms`` (5 minutes), keeps it in its group."""

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    KafkaConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    OperationalError,
    InterfaceError,
)


class MalformedEvent(ValueError):
    """A message that can never be processed: dead-letter it, do not retry."""


class ProcessedEvent(SQLModel, table=True):
    """The consumer inbox: one row per event a service has applied."""

    __tablename__ = "processed_events"

    event_id: UUID = Field(primary_key=True)
    topic: str
    processed_at: datetime


async def claim(session: AsyncSession, event: Envelope, topic: str) -> bool:
    """Record ``event`` as processed in the caller's transaction; False if it already was."""
    inserted: Result[Any] = await session.execute(
        insert(ProcessedEvent)
        .values(event_id=event.event_id, topic=topic, processed_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(literal_column("1"))
    )
    return inserted.first() is not None


def consumer_options(service_group: str, topic: str) -> dict[str, Any]:
    """Keyword arguments for every subscriber: committed reads, commit after success.

    Each subscriber gets a consumer group of its own (``<service>.<topic>``): one
    subscriber joining or leaving then never makes the others of its service rebalance.
    """
    return {
        "group_id": f"{service_group}.{topic}",
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
    }


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: the database or the broker could not be reached."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TRANSIENT_ERRORS)


UNPROCESSABLE: tuple[type[Exception], ...] = (ValidationError, MalformedEvent, UnicodeDecodeError)
"""What can never be processed, however often it is tried: dead-lettered at once."""

# Transient failures: 0.4 s doubling to 10 s, plus up to 0.4 s so that consumers that
# lost the database together do not come back together. Others: 0.1 s, 0.2 s, 0.3 s ...
_transient_wait = wait_exponential(multiplier=0.4, max=10.0) + wait_random(0, 0.4)
_failure_wait = wait_incrementing(start=0.1, increment=0.1)


def _retryable(exc: BaseException) -> bool:
    # Not BaseException: a cancelled consumer stops, it does not retry.
    return isinstance(exc, Exception) and not isinstance(exc, UNPROCESSABLE)


def _failure(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


def _wait(state: RetryCallState) -> float:
    exc = _failure(state)
    return _transient_wait(state) if exc and is_transient(exc) else _failure_wait(state)


def _stop(state: RetryCallState) -> bool:
    exc = _failure(state)
    if exc is not None and is_transient(exc):
        return (state.seconds_since_start or 0.0) >= TRANSIENT_RETRY_SECONDS
    return state.attempt_number >= MAX_ATTEMPTS


def _log_retry(state: RetryCallState) -> None:
    exc = _failure(state)
    delay = state.upcoming_sleep
    if exc is not None and is_transient(exc):
        log.warning("kafka.transient_failure", error=repr(exc), retry_in=round(delay, 3))
    else:
        log.warning("kafka.handler_failed", error=repr(exc), attempt=state.attempt_number)


class DeadLetterMiddleware(BaseMiddleware):
    """Dead-letters malformed or persistently failing messages; retries transient failures.

    Also binds the event id, topic and offset to every log line written while handling.
    """

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        raw = msg.raw_message
        if isinstance(raw, tuple):  # batch subscribers handle their own dead letters
            return await call_next(msg)
        event_id = msg.headers.get("event-id")
        with structlog.contextvars.bound_contextvars(
            event_id=event_id, topic=raw.topic, partition=raw.partition, offset=raw.offset
        ):
            return await self._consume(call_next, msg)

    async def _consume(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        # Retried in place: the offset is committed (or the message handed back) only when
        # this returns or raises, by FastStream's acknowledgement, which wraps this.
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=_stop,
            wait=_wait,
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            return await retrying(call_next, msg)
        except UNPROCESSABLE as exc:
            await self._dead_letter(msg, reason=describe(exc, argument=self._argument(exc)))
            return None
        except Exception as exc:
            if is_transient(exc):
                raise  # handed back after TRANSIENT_RETRY_SECONDS; delivered again
            attempts = retrying.statistics["attempt_number"]
            await self._dead_letter(
                msg, reason=f"failed {attempts} times: {describe(exc)}", exc=exc
            )
            return None

    def _argument(self, exc: Exception) -> bool:
        """Whether ``exc`` is FastStream's check of the handler's argument.

        Its first location is then the parameter's name (``event``), not part of the message.
        """
        if not isinstance(exc, ValidationError):
            return False
        subscriber = self.context.get("handler_")
        names = {getattr(call, "name", None) for call in getattr(subscriber, "calls", ())}
        return exc.title in names

    async def _dead_letter(
        self, msg: StreamMessage[Any], *, reason: str, exc: BaseException | None = None
    ) -> None:
        headers = dict(msg.headers)
        if exc is not None:
            headers["dlq-traceback"] = "".join(traceback.format_exception(exc))[-2000:]
        await dead_letter_record(
            self.context.get("broker"), msg.raw_message, reason=reason, headers=headers
        )


async def dead_letter_record(
    broker: Any, record: Any, *, reason: str, headers: dict[str, str] | None = None
) -> None:
    """Send one consumed record to its topic's DLQ with the reason (for batch consumers)."""
    out = dict(headers or {})
    out.update(
        {
            "dlq-reason": reason[:2000],
            "dlq-original-topic": record.topic,
            "dlq-original-partition": str(record.partition),
            "dlq-original-offset": str(record.offset),
            "dlq-failed-at": datetime.now(UTC).isoformat(),
        }
    )
    await broker.publish(
        record.value or b"", topic=dlq_topic(record.topic), key=record.key, headers=out
    )
    log.error("kafka.dead_lettered", topic=record.topic, offset=record.offset, reason=reason)


def describe(exc: BaseException, *, argument: bool = False) -> str:
    """A one-line reason for a dead letter, naming each invalid field.

    ``argument``: the error's locations start with the name of the handler's parameter,
    which is left out so that the field is named as the message spells it.
    """
    if isinstance(exc, ValidationError):
        problems = []
        for err in exc.errors():
            loc = err["loc"][1:] if argument else err["loc"]
            problems.append(f"{'.'.join(str(p) for p in loc) or '<message>'}: {err['msg']}")
        return "invalid event: " + "; ".join(problems)
    return f"{type(exc).__name__}: {exc}"


def all_topics(
    schemas: Iterable[str] = (), *, prefix: str = "", names: Iterable[str] | None = None
) -> dict[str, int | None]:
    """The topics ``names`` (by default every catalogue topic) after ``prefix``, each with
    its DLQ, plus the relays' progress topics of ``schemas`` (one partition each)."""
    topics: dict[str, int | None] = {}
    for name in (event.topic() for event in CATALOGUE) if names is None else names:
        topics[f"{prefix}{name}"] = None
        topics[dlq_topic(f"{prefix}{name}")] = None
    for schema in schemas:
        topics[progress_topic(schema)] = 1
    return topics


async def ensure_topics(
    bootstrap_servers: str,
    topics: dict[str, int | None],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are.

    ``min_insync_replicas``: how many replicas must hold a write before a producer with
    ``acks="all"`` (every producer: shared.producers) is told it is written; unset, the
    broker's default.
    """
    configs = (
        {} if min_insync_replicas is None else {"min.insync.replicas": str(min_insync_replicas)}
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, n or partitions, replication_factor, topic_configs=configs)
            for name, n in topics.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another service was first
                created = await admin.create_topics(missing)
                # The response names each topic's error rather than raising it (a broker
                # that is starting refuses them all): a consumer would only time out later.
                refused = [
                    f"{topic}: {message or code}"
                    for topic, code, message in created.topic_errors
                    if code not in (0, TopicAlreadyExistsError.errno)
                ]
                if refused:
                    raise KafkaError("topics not created: " + "; ".join(refused))
    finally:
        await admin.close()


async def broker_reachable(bootstrap_servers: str) -> None:
    """Raise unless the broker answers a metadata request."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
    except KafkaError as exc:
        raise ConnectionError(f"Kafka at {bootstrap_servers} does not answer: {exc}") from exc
    finally:
        await admin.close()


EventT = TypeVar("EventT", bound=Envelope)
RuntimeT = TypeVar("RuntimeT")
Record: TypeAlias = ConsumerRecord[Any, Any]


@dataclass(frozen=True)
class Batch(Generic[EventT]):
    """A batch of one topic, as :func:`subscribe_batch` hands it to a service.

    ``events`` are the records that decoded (and passed the check), in order, and
    ``records`` theirs; ``values`` is every record's value, for a service that reads
    the bytes itself (``event_type=None``). ``commit`` commits the whole batch's offsets,
    dead letters included.
    """

    topic: str
    events: list[EventT]
    records: list[Record]
    consumed: Sequence[Record]
    consumer: Any
    broker: Any

    @property
    def values(self) -> list[bytes]:
        """Every record's value, in order."""
        return [record.value or b"" for record in self.consumed]

    @property
    def offsets(self) -> dict[TopicPartition, int]:
        """The offsets to commit once the batch is done: past its last record, per partition."""
        last: dict[TopicPartition, int] = {}
        for record in self.consumed:
            tp = TopicPartition(record.topic, record.partition)
            last[tp] = max(last.get(tp, -1), record.offset)
        return {tp: offset + 1 for tp, offset in last.items()}

    async def commit(self) -> None:
        """Commit the batch's offsets."""
        await self.consumer.commit(self.offsets)

    async def dead_letter(self, record: Record, reason: str) -> None:
        """Send one record of the batch to its topic's DLQ with the reason."""
        await dead_letter_record(self.broker, record, reason=reason)


Check = Callable[[EventT], str | None]
"""A service's own check of a decoded event: a reason to dead-letter it, or None; a
``ValueError`` it raises is a reason too."""


async def _bodies(message: StreamMessage[Any]) -> list[bytes]:
    # FastStream's decoding is left out: the batch's records are decoded one by one, so
    # that one malformed record is dead-lettered and not the whole batch.
    return list(message.body)


async def decode_records(
    consumed: Sequence[Record],
    event_type: type[Envelope] | None,
    *,
    accept: Callable[[bytes], bool] | None,
    check: Check[EventT] | None,
    broker: Any,
) -> tuple[list[EventT], list[Record]]:
    """The records that decode as ``event_type`` and pass ``check``, and theirs; the others
    go to the DLQ with the reason (those ``accept`` refuses are skipped)."""
    if event_type is None:
        return [], list(consumed)
    decoded: list[EventT] = []
    records: list[Record] = []
    for record in consumed:
        value = record.value or b""
        if accept is not None and not accept(value):
            continue
        try:
            event = cast(EventT, event_type.model_validate_json(value))
            reason = check(event) if check is not None else None
        except (ValidationError, ValueError) as exc:
            reason = describe(exc)
        if reason is not None:
            await dead_letter_record(broker, record, reason=reason)
            continue
        decoded.append(event)
        records.append(record)
    return decoded, records


def publishers(router: KafkaRouter, settings: ServiceSettings, topics: Iterable[str]) -> None:
    """Named publishers of the events a service emits, so that its AsyncAPI document shows
    them (the events themselves leave through the outbox relay)."""
    for topic in topics:
        router.publisher(
            settings.topic(topic),
            schema=EVENT_BY_TOPIC[topic],
            description="Published through the outbox relay, in a Kafka transaction.",
        )


def subscriber(
    router: KafkaRouter, settings: ServiceSettings, topic: str, **options: Any
) -> Callable[[Callable[..., Awaitable[None]]], Any]:
    """A subscriber to the service's ``topic`` (with its prefix), one event at a time,
    in consumer group ``<schema>.<topic>`` (:func:`consumer_options`)."""
    name = settings.topic(topic)
    return router.subscriber(name, **consumer_options(settings.schema_name, name), **options)


def subscribe_batch(
    router: KafkaRouter,
    settings: ServiceSettings,
    topic: str,
    event_type: type[Envelope] | None,
    work: Callable[[Batch[EventT], RuntimeT], Awaitable[None]],
    *,
    max_records: int,
    timeout_ms: int = 20,
    check: Check[EventT] | None = None,
    accept: Callable[[bytes], bool] | None = None,
    commits: bool = True,
    **subscriber: Any,
) -> None:
    """Subscribe ``work`` to the service's ``topic`` (with its prefix) a batch at a time,
    in consumer group ``<schema>.<topic>``.

    Each record is decoded as ``event_type`` (None: left as bytes, ``Batch.values``) and
    checked (``check``); what does not decode or pass goes to ``<topic>.dlq`` with the
    reason, and ``work(batch, runtime)`` gets the rest. Records ``accept`` refuses are
    another consumer's business: neither handed over nor dead-lettered. The batch's
    offsets are committed once ``work`` returns (its transaction has committed), or, with
    ``commits=False``, by ``work`` itself (``Batch.commit``) once what it started is done;
    a batch whose work fails is not committed but handed back, to be read again.
    ``subscriber``: more of FastStream's subscriber options (a ``parser``, a
    ``description``).
    """
    name = settings.topic(topic)

    async def handle(
        bodies: list[bytes],
        message: KafkaMessage = Context("message"),
        runtime: Any = Context("runtime"),
    ) -> None:
        broker = runtime.broker
        try:
            consumed: Sequence[Record] = message.raw_message
            events, records = await decode_records(
                consumed, event_type, accept=accept, check=check, broker=broker
            )
            batch = Batch(name, events, records, consumed, message.consumer, broker)
            if commits and not events and event_type is not None:
                await batch.commit()  # nothing for the work: every record dead-lettered
                return
            await work(batch, runtime)
            if commits:
                await batch.commit()
        except BaseException:
            # The offsets are this subscriber's (or the work's) to commit: a batch not done
            # is read again, or a later commit would pass over it.
            await message.nack()
            raise

    handle.__name__ = handle.__qualname__ = getattr(work, "__name__", "on_batch")
    router.subscriber(
        name,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=timeout_ms,
        decoder=_bodies,
        **{**consumer_options(settings.schema_name, name), "ack_policy": AckPolicy.MANUAL},
        **subscriber,
    )(handle)
