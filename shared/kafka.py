"""Kafka plumbing shared by the services: topics, consumer defaults, dead letters, inbox.

Consumers in this project:
- read only committed messages (the outbox relay publishes in transactions);
- process one message at a time and commit its offset only after their database
  transaction has committed (FastStream's NACK_ON_ERROR policy);
- dedupe on ``event_id`` through the ``processed_events`` table, in that same transaction;
- send what cannot be parsed, or what keeps failing, to ``<topic>.dlq`` with the reason
  in its headers, and carry on;
- retry transient failures (database or broker unreachable) forever, with backoff.
"""

import asyncio
import contextlib
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar
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

from shared.events import CATALOGUE, Envelope, dlq_topic
from shared.logging import get_logger
from shared.relay import progress_topic

log = get_logger(__name__)

MAX_ATTEMPTS = 5
"""A message that fails this many times for a non-transient reason is dead-lettered."""

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


class DeadLetterMiddleware(BaseMiddleware):
    """Dead-letters malformed or persistently failing messages; retries transient failures.

    Also binds the event id, topic and offset to every log line written while handling.
    """

    # Middleware instances live for one message; the attempt count must outlive them.
    attempts: ClassVar[dict[tuple[str, int, int], int]] = {}

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        raw = msg.raw_message
        if isinstance(raw, tuple):  # batch subscribers handle their own dead letters
            return await call_next(msg)
        position = (raw.topic, raw.partition, raw.offset)
        event_id = msg.headers.get("event-id")
        with structlog.contextvars.bound_contextvars(
            event_id=event_id, topic=raw.topic, partition=raw.partition, offset=raw.offset
        ):
            return await self._consume(call_next, msg, position)

    async def _consume(
        self, call_next: Any, msg: StreamMessage[Any], position: tuple[str, int, int]
    ) -> Any:
        try:
            result = await call_next(msg)
        except (ValidationError, MalformedEvent, UnicodeDecodeError) as exc:
            await self._dead_letter(msg, reason=describe(exc))
            return None
        except Exception as exc:
            if is_transient(exc):
                attempt = self.attempts.get(position, 0) + 1
                self.attempts[position] = attempt
                delay = min(0.2 * 2 ** min(attempt, 6), 10.0)
                log.warning("kafka.transient_failure", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                raise
            attempt = self.attempts.get(position, 0) + 1
            if attempt >= MAX_ATTEMPTS:
                self.attempts.pop(position, None)
                await self._dead_letter(
                    msg, reason=f"failed {attempt} times: {describe(exc)}", exc=exc
                )
                return None
            self.attempts[position] = attempt
            log.warning("kafka.handler_failed", error=repr(exc), attempt=attempt)
            await asyncio.sleep(0.1 * attempt)
            raise
        self.attempts.pop(position, None)
        return result

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


def describe(exc: BaseException) -> str:
    """A one-line reason for a dead letter, naming each invalid field."""
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '<message>'}: {err['msg']}"
            for err in exc.errors()
        ]
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
