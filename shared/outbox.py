"""The transactional outbox: events are written with the state they describe.

A service stages events in its ``outbox`` table inside the same database transaction
as its state change; :class:`shared.relay.OutboxRelay` publishes them. Nothing the
database committed is lost, and nothing rolled back is ever published.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime, Identity, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from shared.events import Envelope
from shared.telemetry import current_trace_headers

OUTBOX_DDL: tuple[str, ...] = (
    """
    CREATE TABLE outbox (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id     uuid NOT NULL UNIQUE,
        topic        text NOT NULL,
        key          text NOT NULL,
        value        text NOT NULL,
        headers      jsonb NOT NULL DEFAULT '{}',
        created_at   timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
    )
    """,
    "CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL",
    """
    CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()
    """,
    """
    CREATE TABLE processed_events (
        event_id     uuid PRIMARY KEY,
        topic        text NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now()
    )
    """,
)
"""DDL for the outbox and the consumer inbox; each service's first migration runs it."""


def create_outbox_tables() -> None:
    """Alembic upgrade step that every service's first migration uses."""
    from alembic import op

    for statement in OUTBOX_DDL:
        op.execute(statement)


def drop_outbox_tables() -> None:
    """Alembic downgrade step matching :func:`create_outbox_tables`."""
    from alembic import op

    op.execute("DROP TABLE processed_events")
    op.execute("DROP TABLE outbox")
    op.execute("DROP FUNCTION outbox_notify")


def notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel that wakes the relay of ``schema``."""
    return f"outbox_{schema}"


class OutboxMessage(SQLModel, table=True):
    """One event waiting for (or past) publication."""

    __tablename__ = "outbox"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    event_id: UUID = Field(unique=True)
    topic: str
    key: str
    value: str = Field(sa_column=Column(Text, nullable=False))
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )
    published_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


def stage(session: AsyncSession, *events: Envelope) -> None:
    """Add events to the outbox in the caller's transaction, with the current trace context."""
    headers = current_trace_headers()
    for event in events:
        session.add(
            OutboxMessage(
                event_id=event.event_id,
                topic=event.topic(),
                key=event.subject_id,
                value=event.model_dump_json(),
                headers=headers,
            )
        )


# The events as four arrays, unnested in order (WITH ORDINALITY: the ids follow it), and
# the one set of trace headers they share: one statement and five parameters however
# many events, where ORM objects cost a Python object and a flush step each.
_STAGE_MANY = text(
    """
    INSERT INTO outbox (event_id, topic, key, value, headers)
    SELECT e.event_id, e.topic, e.key, e.value, CAST(:headers AS jsonb)
    FROM unnest(
        CAST(:event_ids AS uuid[]), CAST(:topics AS text[]),
        CAST(:keys AS text[]), CAST(:values AS text[])
    ) WITH ORDINALITY AS e(event_id, topic, key, value, n)
    ORDER BY e.n
    """
)


async def stage_many(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Add many events to the outbox in the caller's transaction, in one statement, in order.

    The bulk form of :func:`stage`, for use cases that stage hundreds of events at once.
    """
    if not events:
        return
    # Rows the session still holds (stage() adds them) go first, so ids keep staging order
    # (autoflush does it too, unless the session was made without it).
    await session.flush()
    await session.execute(
        _STAGE_MANY,
        {
            "event_ids": [event.event_id for event in events],
            "topics": [event.topic() for event in events],
            "keys": [event.subject_id for event in events],
            "values": [event.model_dump_json() for event in events],
            "headers": json.dumps(current_trace_headers()),
        },
    )
