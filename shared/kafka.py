"""Kafka plumbing shared by the services: topics, consumer defaults, dead letters, inbox.

Consumers in this project:
- read only committed messages (the outbox relay publishes in transactions);
- process one message at a time and commit its offset only after their database
  transaction has committed (FastStream's NACK_ON_ERROR policy);
- dedupe on ``event_id`` through the ``processed_events`` table, in that same transaction;
- send what cannot be parsed, or what keeps failing, to ``<topic>.dlq`` with the reason
  in its headers, and carry on;
- retry transient failures (database or broker unreachable) forever, with capped
  exponential backoff and jitter (tenacity).
"""

import asyncio
import contextlib
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy, BaseMiddleware
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

from shared.events import CATALOGUE, Envelope, dlq_topic
from shared.logging import get_logger
from shared.relay import progress_topic

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


def all_topics(schemas: Iterable[str] = ()) -> dict[str, int | None]:
    """Every catalogue topic and its DLQ, plus the relays' progress topics (one partition)."""
    topics: dict[str, int | None] = {}
    for event in CATALOGUE:
        topics[event.topic()] = None
        topics[dlq_topic(event.topic())] = None
    for schema in schemas:
        topics[progress_topic(schema)] = 1
    return topics


async def ensure_topics(
    bootstrap_servers: str,
    topics: dict[str, int | None],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, n or partitions, replication_factor)
            for name, n in topics.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another service was first
                await admin.create_topics(missing)
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
