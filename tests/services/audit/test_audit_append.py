"""The log's append path against the real database: copies turned away by the unique
event ids, two replicas taking turns, and rows that read back as the leaves they hash."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit import ingestion, merkle, repository
from services.audit import verify as verification
from services.audit.main import MIGRATIONS
from shared.db import Sessions, connect_raw, create_engine, create_sessions, migrate
from tests.services.audit.test_audit_records import valid
from tests.support import DATABASE_URL

pytestmark = pytest.mark.integration


@pytest.fixture
async def schema(schema_factory: Callable[[str], str]) -> str:
    name = schema_factory("append")
    engine = create_engine(DATABASE_URL, name, pool_size=1)
    await migrate(engine, MIGRATIONS, name)
    await engine.dispose()
    return name


@pytest.fixture
async def engine(schema: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
async def conn(schema: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect_raw(DATABASE_URL, schema)
    yield connection
    await connection.close()


def batch(count: int) -> ingestion.Prepared:
    bodies = []
    for _ in range(count):
        body = valid()
        body["event_id"] = str(uuid.uuid4())
        bodies.append(json.dumps(body).encode())
    return ingestion.read(bodies).ready


async def positions(engine: AsyncEngine) -> list[tuple[int, str]]:
    async with engine.connect() as c:
        rows = await c.execute(text("SELECT seq, event_id::text FROM entries ORDER BY seq"))
        return [(int(s), e) for s, e in rows]


async def verified(sessions: Sessions) -> verification.Report:
    report = await verification.verify(sessions, public_key=bytes(32))
    assert report.ok, report
    return report


async def test_copies_of_logged_events_are_turned_away(
    engine: AsyncEngine, conn: asyncpg.Connection
) -> None:
    sessions = create_sessions(engine)
    audit_log = ingestion.AuditLog()
    first, second = batch(5), batch(5)
    assert await ingestion.write(conn, audit_log, first) == 5
    assert await ingestion.write(conn, audit_log, first) == 0
    # half copies, half new: only the new are written, in order, after the others
    mixed = ingestion.merge([first, second])
    assert await ingestion.write(conn, audit_log, mixed) == 5
    assert await positions(engine) == list(enumerate(first.event_ids + second.event_ids))
    assert audit_log.size == 10
    assert (await verified(sessions)).entries == 10


async def test_two_replicas_taking_turns_number_the_log_without_gaps(
    schema: str, engine: AsyncEngine, conn: asyncpg.Connection
) -> None:
    sessions = create_sessions(engine)
    other_conn = await connect_raw(DATABASE_URL, schema)
    mine, theirs = ingestion.AuditLog(), ingestion.AuditLog()
    written = []
    try:
        for turn in range(4):  # each write finds the log grown by the other replica
            ready = batch(3)
            replica, connection = (mine, conn) if turn % 2 == 0 else (theirs, other_conn)
            assert await ingestion.write(connection, replica, ready) == 3
            written += ready.event_ids
    finally:
        await other_conn.close()
    assert await positions(engine) == list(enumerate(written))
    fresh = ingestion.AuditLog()
    await ingestion.load(sessions, fresh)
    assert fresh.size == theirs.size == 12
    assert fresh.root() == theirs.root()
    assert (await verified(sessions)).entries == 12


async def test_unstored_tree_levels_are_hashed_again_from_the_leaves(
    engine: AsyncEngine, conn: asyncpg.Connection
) -> None:
    ready = batch(40)
    assert await ingestion.write(conn, ingestion.AuditLog(), ready) == 40
    every = {(level, i): h for level, i, h in merkle.Frontier().append(ready.leaves)}
    every |= {(0, i): leaf for i, leaf in enumerate(ready.leaves)}
    assert await repository.hashes(conn, every) == every
    async with engine.connect() as c:
        lowest = (await c.execute(text("SELECT min(level) FROM tree_nodes"))).scalar_one()
    assert lowest == repository.LOWEST_STORED_LEVEL
    # a subtree the log does not hold yet is left out, not made up
    assert await repository.hashes(conn, [(2, 10), (5, 1)]) == {}


async def test_a_log_appends_while_another_schemas_log_holds_its_append_lock(
    schema_factory: Callable[[str], str], conn: asyncpg.Connection
) -> None:
    # The append lock serialises a log's replicas, not every audit log of the database
    # (tests and benchmarks of other logs share it).
    other = schema_factory("append_other")
    engine = create_engine(DATABASE_URL, other, pool_size=1)
    await migrate(engine, MIGRATIONS, other)
    await engine.dispose()
    holder = await connect_raw(DATABASE_URL, other)
    try:
        async with repository.appending(holder):
            appended = ingestion.write(conn, ingestion.AuditLog(), batch(3))
            assert await asyncio.wait_for(appended, 10) == 3
    finally:
        await holder.close()
