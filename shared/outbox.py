"""The transactional outbox: events are written with the state they describe.

A service stages events in its ``outbox`` table inside the same database transaction
as its state change; :class:`shared.relay.OutboxRelay` publishes them. Nothing the
database committed is lost, and nothing rolled back is ever published.

This module is the table's one writer (nothing outside ``shared/`` writes it): an ORM
session's (:func:`stage`, :func:`stage_many`), a raw asyncpg connection's
(:func:`stage_raw`, in :func:`transaction`), and the INSERT a larger statement embeds
(:func:`insert_sql`, :func:`insert_params`, :func:`execute_raw`). Each writes the row's
topic with the prefix of the connection it is written on (the service's
``TOPIC_PREFIX``, a connection setting: ``shared.db.connection_settings``).

How the relay learns of new rows: every commit of an ORM session in the process, and
every commit of the raw asyncpg forms (:func:`transaction`, :func:`execute_raw`),
wakes the process's relays at once; a relay standing by (another replica's is active)
passes the wake on with one ``NOTIFY`` of its own, outside any data transaction; and the
active relay polls every ``outbox_poll_seconds`` in any case. The rows are not announced
by a trigger: a ``NOTIFY`` in a transaction makes PostgreSQL serialise its commit, WAL
flush included, with every other such commit in the cluster, which capped the registry's
read path at one disclosure per flush (measured: about 1,000 a second, p99 over 90 ms).
"""

import asyncio
import json
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Text,
    TypeDecorator,
    func,
    literal_column,
    text,
    type_coerce,
)
from sqlalchemy import event as orm_event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from shared.db import TOPIC_PREFIX_SETTING
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
    CREATE TABLE processed_events (
        event_id     uuid PRIMARY KEY,
        topic        text NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now()
    )
    """,
)
"""DDL for the outbox and the consumer inbox; each service's first migration runs it."""

_NOTIFY_TRIGGER_DDL: tuple[str, ...] = (
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
)
"""The trigger outboxes had until the relay was woken by the committing process."""


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
    op.execute("DROP FUNCTION IF EXISTS outbox_notify")


def drop_outbox_trigger() -> None:
    """Alembic upgrade step: rows are no longer announced by a NOTIFY in their transaction
    (a schema made by an earlier first migration has the trigger; a newer one has not)."""
    from alembic import op

    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify")


def restore_outbox_trigger() -> None:
    """Alembic downgrade step matching :func:`drop_outbox_trigger`."""
    from alembic import op

    for statement in _NOTIFY_TRIGGER_DDL:
        op.execute(statement)


def notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel on which standby relays wake the active relay of ``schema``."""
    return f"outbox_{schema}"


class _Waker:
    """Sets an event of a relay's loop from any thread (the audit writer commits in one)."""

    def __init__(self, wake: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        self.wake, self.loop = wake, loop

    def __call__(self) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.wake.set()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.wake.set)


_wakers: "weakref.WeakSet[_Waker]" = weakref.WeakSet()


def on_wake(wake: asyncio.Event) -> Callable[[], None]:
    """Set ``wake`` (of the running loop) whenever rows may have been committed; the
    returned callable stops it (the registration also goes with the callable)."""
    waker = _Waker(wake, asyncio.get_running_loop())
    _wakers.add(waker)
    return waker


def forget_wake(waker: Callable[[], None]) -> None:
    """Undo :func:`on_wake`."""
    _wakers.discard(waker)  # type: ignore[arg-type]


def wake() -> None:
    """Tell the process's relays that outbox rows were just committed."""
    for waker in list(_wakers):
        waker()


@orm_event.listens_for(Session, "after_commit")
def _after_commit(session: Any) -> None:
    # Any ORM commit may carry staged rows (stage() and stage_many() alike); waking for
    # one that carried none costs a relay one empty read of the pending index.
    wake()


PREFIXED_TOPIC = f"coalesce(current_setting('{TOPIC_PREFIX_SETTING}', true), '')"
"""The connection's topic prefix (``shared.db.connection_settings``), in SQL: every row
is written with it before its topic, however it is written, so no caller names it."""


class PrefixedTopic(TypeDecorator[str]):
    """A topic column written with the prefix of the connection that writes it: part of
    the statement, so the ORM still inserts many rows in one statement."""

    impl = Text
    cache_ok = True

    def bind_expression(self, bindvalue: Any) -> Any:
        return literal_column(PREFIXED_TOPIC, Text()) + type_coerce(bindvalue, Text())


class OutboxMessage(SQLModel, table=True):
    """One event waiting for (or past) publication."""

    __tablename__ = "outbox"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    event_id: UUID = Field(unique=True)
    topic: str = Field(sa_column=Column(PrefixedTopic, nullable=False))
    """Written with the connection's prefix before it (the contract's name after it)."""
    key: str
    value: str = Field(sa_column=Column(Text, nullable=False))
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )
    published_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


Headers = Mapping[str, str]
"""Headers a staged event is published with, besides the trace context and its id."""


def _headers(extra: Headers | None) -> dict[str, str]:
    headers = current_trace_headers()
    if extra:
        headers = {**headers, **extra}
    return headers


def stage(session: AsyncSession, *events: Envelope, headers: Headers | None = None) -> None:
    """Add events to the outbox in the session's transaction, with the current trace
    context (and ``headers``); the session's commit wakes the relay."""
    row_headers = _headers(headers)
    for event in events:
        row = OutboxMessage(
            event_id=event.event_id,
            topic=event.topic(),
            key=event.subject_id,
            value=event.model_dump_json(),
            headers=row_headers,
        )
        session.add(row)


_ARRAYS = (
    ("event_id", "uuid"),
    ("topic", "text"),
    ("key", "text"),
    ("value", "text"),
    ("headers", "text"),
)
"""The arrays a staging statement takes (after the tags, if tagged), and their types."""


def _insert(placeholders: Sequence[str], tagged: str | None) -> str:
    """The outbox INSERT over arrays (the tags first, if ``tagged``), unnested in order
    (WITH ORDINALITY: the ids follow it)."""
    columns = [*(["tag"] if tagged else []), *(name for name, _ in _ARRAYS)]
    kinds = [*(["text"] if tagged else []), *(kind for _, kind in _ARRAYS)]
    arrays = ", ".join(f"CAST({p} AS {k}[])" for p, k in zip(placeholders, kinds, strict=True))
    where = f" WHERE e.tag IN (SELECT tag FROM {tagged})" if tagged else ""
    return (
        "INSERT INTO outbox (event_id, topic, key, value, headers) "
        f"SELECT e.event_id, {PREFIXED_TOPIC} || e.topic, e.key, e.value, "
        f"CAST(e.headers AS jsonb) FROM unnest({arrays}) "
        f"WITH ORDINALITY AS e({', '.join(columns)}, n){where} ORDER BY e.n"
    )


def insert_sql(first: int = 1, *, tagged: str | None = None) -> str:
    """The outbox INSERT over array parameters ``$first`` on, for a raw asyncpg statement
    or a data-modifying CTE of a larger one (:func:`insert_params` gives its arguments).

    ``tagged``: the name of a CTE returning a text column ``tag``; then the first array
    gives each event's tag, and only the events whose tag that CTE returned are staged
    (the notifier stages the outcomes its UPDATE recorded, in the same statement).
    """
    count = len(_ARRAYS) + (1 if tagged else 0)
    return _insert([f"${n}" for n in range(first, first + count)], tagged)


def insert_params(
    events: Sequence[Envelope],
    *,
    tags: Sequence[str] | None = None,
    headers: Headers | Sequence[str] | None = None,
) -> list[object]:
    """The arguments of :func:`insert_sql`, in order: the events' tags (if tagged), ids,
    topics, keys, values and headers. ``headers``: extra headers for every event, or one
    JSON object (a string, with its trace context) per event; by default, the current
    trace context."""
    if headers is None or isinstance(headers, Mapping):
        encoded = json.dumps(_headers(headers))
        per_event: Sequence[str] = [encoded] * len(events)
    else:
        per_event = headers
    params: list[object] = [] if tags is None else [list(tags)]
    params += [
        [event.event_id for event in events],
        [event.topic() for event in events],
        [event.subject_id for event in events],
        [event.model_dump_json() for event in events],
        list(per_event),
    ]
    return params


_STAGE_MANY = text(_insert([f":{name}" for name, _ in _ARRAYS], None))
"""One statement and five array parameters however many events, where ORM objects cost
a Python object and a flush step each."""


async def stage_many(
    session: AsyncSession, events: Sequence[Envelope], *, headers: Headers | None = None
) -> None:
    """Add many events to the outbox in the session's transaction, in one statement, in
    order; the bulk form of :func:`stage` (the session's commit wakes the relay)."""
    if not events:
        return
    # Rows the session still holds (stage() adds them) go first, so ids keep staging order
    # (autoflush does it too, unless the session was made without it).
    await session.flush()
    arrays = insert_params(events, headers=headers)
    await session.execute(
        _STAGE_MANY, {name: array for (name, _), array in zip(_ARRAYS, arrays, strict=True)}
    )


_STAGE_RAW = insert_sql()


async def stage_raw(
    conn: asyncpg.Connection, events: Sequence[Envelope], *, headers: Headers | None = None
) -> None:
    """Add events to the outbox on a raw asyncpg connection, in one statement, in order.

    In a transaction (:func:`transaction`), the rows wait for its commit, which wakes the
    relay; outside one, the statement commits them at once and wakes it here.
    """
    if not events:
        return
    await execute_raw(conn, _STAGE_RAW, *insert_params(events, headers=headers))


async def execute_raw(conn: asyncpg.Connection, statement: str, *args: object) -> Any:
    """Run a statement that stages events (built with :func:`insert_sql`) and return its
    first row; outside a transaction it has committed, so the relay is woken."""
    row = await conn.fetchrow(statement, *args)
    if not conn.is_in_transaction():
        wake()
    return row


@asynccontextmanager
async def transaction(conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """A transaction of a raw asyncpg connection whose commit wakes the relay (the ORM's
    commits wake it by themselves)."""
    async with conn.transaction():
        yield conn
    wake()
