"""The one outbox writer: an ORM session, a raw asyncpg connection or a bulk statement
stages rows in order, with the trace context and the connection's topic prefix, and
wakes the relay once they are committed."""

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from opentelemetry import trace
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import outbox
from shared.db import asyncpg_dsn, connect_raw, create_engine, create_sessions
from tests.support import DATABASE_URL, make_probe, probe_event

pytestmark = pytest.mark.integration

PREFIX = "writer-test."
Probe = probe_event("writer.probe")


@pytest.fixture
async def prefixed(outbox_schema: tuple[str, AsyncEngine]) -> AsyncIterator[AsyncEngine]:
    """An engine on the outbox schema whose connections stage with :data:`PREFIX`."""
    schema, _ = outbox_schema
    engine = create_engine(DATABASE_URL, schema, pool_size=2, topic_prefix=PREFIX)
    yield engine
    await engine.dispose()


@pytest.fixture
async def raw(outbox_schema: tuple[str, AsyncEngine]) -> AsyncIterator[asyncpg.Connection]:
    """A bare connection on the outbox schema, staging with :data:`PREFIX`."""
    conn = await connect_raw(DATABASE_URL, outbox_schema[0], topic_prefix=PREFIX)
    yield conn
    await conn.close()


async def rows(engine: AsyncEngine) -> list[tuple[str, str, dict[str, str]]]:
    async with engine.connect() as conn:
        result = await conn.execute(text("SELECT value, topic, headers FROM outbox ORDER BY id"))
        return [(json.loads(v)["payload"]["n"], t, h) for v, t, h in result]


class Wakes:
    """Counts the wakes the relays of this process would get."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.waker = outbox.on_wake(self.event)

    async def woken(self) -> bool:
        await asyncio.sleep(0)
        woken = self.event.is_set()
        self.event.clear()
        return woken


async def test_every_form_stages_in_order_with_the_prefix_and_the_trace_context(
    prefixed: AsyncEngine, raw: asyncpg.Connection
) -> None:
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("staging"):
        async with create_sessions(prefixed).begin() as session:
            outbox.stage(session, make_probe(Probe, 1), make_probe(Probe, 2))
            await outbox.stage_many(session, [make_probe(Probe, 3), make_probe(Probe, 4)])
            outbox.stage(session, make_probe(Probe, 5), headers={"origin": "here"})
        async with outbox.transaction(raw):
            await outbox.stage_raw(raw, [make_probe(Probe, 6), make_probe(Probe, 7)])

    staged = await rows(prefixed)
    assert [n for n, _, _ in staged] == [1, 2, 3, 4, 5, 6, 7]
    assert {t for _, t, _ in staged} == {f"{PREFIX}{Probe.topic()}"}
    assert all("traceparent" in h for _, _, h in staged)
    assert staged[4][2]["origin"] == "here"


async def test_a_connection_without_a_prefix_stages_on_the_plain_topic(
    outbox_schema: tuple[str, AsyncEngine],
) -> None:
    _, engine = outbox_schema
    async with create_sessions(engine).begin() as session:
        outbox.stage(session, make_probe(Probe, 1))
        await outbox.stage_many(session, [make_probe(Probe, 2)])
    assert [t for _, t, _ in await rows(engine)] == [Probe.topic()] * 2


async def test_each_form_wakes_the_relay_once_its_rows_are_committed(
    prefixed: AsyncEngine, raw: asyncpg.Connection
) -> None:
    wakes = Wakes()
    try:
        async with create_sessions(prefixed).begin() as session:
            outbox.stage(session, make_probe(Probe, 1))
            assert not await wakes.woken()
        assert await wakes.woken(), "the ORM commit"

        async with create_sessions(prefixed).begin() as session:
            await outbox.stage_many(session, [make_probe(Probe, 2)])
        assert await wakes.woken(), "the bulk statement's commit"

        async with outbox.transaction(raw):
            await outbox.stage_raw(raw, [make_probe(Probe, 3)])
            assert not await wakes.woken(), "woken before the commit"
        assert await wakes.woken(), "the raw transaction's commit"

        await outbox.stage_raw(raw, [make_probe(Probe, 4)])
        assert await wakes.woken(), "a raw statement outside a transaction"
    finally:
        outbox.forget_wake(wakes.waker)
    assert [n for n, _, _ in await rows(prefixed)] == [1, 2, 3, 4]


async def test_a_larger_statement_stages_only_the_events_its_cte_tags(
    prefixed: AsyncEngine, outbox_schema: tuple[str, AsyncEngine]
) -> None:
    # The notifier's shape: one statement records outcomes and stages the events of
    # those it recorded; the others' events are not staged.
    conn = await asyncpg.connect(
        asyncpg_dsn(DATABASE_URL),
        server_settings={"search_path": outbox_schema[0], "privacy.topic_prefix": PREFIX},
    )
    wakes = Wakes()
    try:
        statement = (
            "WITH rec AS (SELECT unnest($1::text[]) AS tag), "
            f"ev AS ({outbox.insert_sql(2, tagged='rec')} RETURNING 1) "
            "SELECT count(*) FROM ev"
        )
        events = [make_probe(Probe, n) for n in (1, 2, 3)]
        row = await outbox.execute_raw(
            conn, statement, ["a", "c"], *outbox.insert_params(events, tags=["a", "b", "c"])
        )
        assert row is not None and row[0] == 2
        assert await wakes.woken()
    finally:
        outbox.forget_wake(wakes.waker)
        await conn.close()
    assert [(n, t) for n, t, _ in await rows(prefixed)] == [
        (1, f"{PREFIX}{Probe.topic()}"),
        (3, f"{PREFIX}{Probe.topic()}"),
    ]
