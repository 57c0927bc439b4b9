"""Fixtures shared by the whole suite.

Integration tests (marked ``integration``) use the real Kafka and PostgreSQL that
``make test`` starts; each test gets schemas and topics of its own. The services under
test connect as their own database roles and migrate as the owner; the tests' own work
(making and dropping schemas, reading rows, tampering on purpose) is done as the owner,
``tests.support.DATABASE_URL`` (docs/database-roles.md).
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.outbox import OUTBOX_DDL
from shared.telemetry import configure_tracing
from tests.support import DATABASE_URL, drop_topics, oidc, unique

configure_tracing("tests")

REAL_STACK_FIXTURES = frozenset({"admin_engine", "oidc_provider"})
"""Fixtures that reach the real database (every stack a test builds goes through one) or
the local OpenID provider."""


PACKAGE = "/"
"""Ends the name :func:`shared_scope` gives a package's scope."""
HEAVY = "slow-and-fault"
"""The xdist group of the tests marked ``slow`` or ``fault`` (processes killed, ten replicas,
hundreds of thousands of entries): one worker runs them one after another, so two never
fight for the machine's two cores at once, and the other workers take the rest."""


def shared_scope(item: pytest.Item) -> str | None:
    """The widest scope below the session's that a fixture of ``item`` is shared in (a
    module's file, a package's folder and a slash, a class), or None if every fixture is the
    test's own or the session's.

    Under ``pytest -n N --dist loadgroup`` (``make test``) the tests of one such scope go to
    one worker (an ``xdist_group`` of that name), so a module- or package-scoped stack is
    built once, as it is in a serial run, rather than once on every worker."""
    if not isinstance(item, pytest.Function):
        return None
    widest: tuple[int, str] | None = None
    for definitions in item._fixtureinfo.name2fixturedefs.values():
        for definition in definitions:
            scope = definition.scope
            if scope == "package":
                name, rank = (definition.baseid or item.nodeid.split("::")[0]) + PACKAGE, 3
            elif scope == "module":
                name, rank = item.nodeid.split("::")[0], 2
            elif scope == "class" and item.cls is not None:
                name, rank = item.nodeid.rsplit("::", 1)[0], 1
            else:
                continue
            if widest is None or rank > widest[0]:
                widest = (rank, name)
    return None if widest is None else widest[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``integration`` every test that uses the real stack's fixtures (directly or
    through others), so that ``make test-fast`` never waits on a broker or database. Under
    xdist, keep the tests that share a module-, package- or class-scoped fixture on one
    worker, and the ``slow`` and ``fault`` tests on one worker (:data:`HEAVY`)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & REAL_STACK_FIXTURES and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("xdist_group") is None:
            group = shared_scope(item)
            heavy = item.get_closest_marker("slow") or item.get_closest_marker("fault")
            # A heavy module's tests stay together in the heavy group too (in collection
            # order, so its module fixture is still built once); a package's stay in theirs.
            if heavy and (group is None or not group.endswith(PACKAGE)):
                group = HEAVY
            if group is not None:
                item.add_marker(pytest.mark.xdist_group(group.removesuffix(PACKAGE)))


def pytest_collection_finish(session: pytest.Session) -> None:
    """When a selected test needs the OpenID provider, begin starting it now, in the
    background: its start-up (minutes on a busy machine) runs beside the tests before it."""
    if any("oidc_provider" in getattr(item, "fixturenames", ()) for item in session.items):
        oidc.start_early()


def pytest_sessionstart(session: pytest.Session) -> None:
    """The run's own process (not an xdist worker) notes whether the OpenID provider was
    already running, so that it stops the provider at the end only if the run started it."""
    if not hasattr(session.config, "workerinput"):
        oidc.note_running_before()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker lets its early start finish; the run's own process, the last to end, stops
    the OpenID provider if the run started it."""
    if hasattr(session.config, "workerinput"):
        oidc.finish_early_start()
    else:
        oidc.stop_if_started_by_run()


@pytest.fixture(scope="session")
def oidc_provider() -> oidc.Provider:
    """The local OpenID provider (Keycloak, deploy/local/oidc.sh): the running one, or
    started for the session (begun at collection) and stopped after it; skipped where it
    cannot be started."""
    why = oidc.unavailable()
    if why:
        pytest.skip(f"the OpenID provider cannot be started here: {why}")
    return oidc.start()


@pytest.fixture(scope="session")
async def admin_engine() -> AsyncIterator[AsyncEngine]:
    """The owner role, which made (and may drop) every schema the services migrated."""
    engine = create_engine(DATABASE_URL, "public", pool_size=2)
    yield engine
    await engine.dispose()


async def _drop_schema(engine: AsyncEngine, name: str) -> None:
    """Drop a test's schema; a deadlock with another backend's work on its tables (an
    autovacuum, a service's last statement) is tried again, it is not the test's failure."""
    for attempt in range(5):
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            return
        except DBAPIError as exc:
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))


@pytest.fixture
async def schema_factory(
    admin_engine: AsyncEngine,
) -> AsyncIterator[Callable[[str], str]]:
    """Names fresh schemas and drops them after the test, with the topics of the services
    that ran on them (their prefix is the schema's name and a dot)."""
    made: list[str] = []

    def make(prefix: str) -> str:
        name = unique(f"t_{prefix}")
        made.append(name)
        return name

    yield make
    for name in made:
        await _drop_schema(admin_engine, name)
    await drop_topics(*(f"{name}." for name in made))


@pytest.fixture
async def outbox_schema(
    schema_factory: Callable[[str], str],
) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A fresh schema holding just the outbox and inbox tables, and an engine bound to it."""
    schema = schema_factory("outbox")
    engine = create_engine(DATABASE_URL, schema, pool_size=4)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        for statement in OUTBOX_DDL:
            await conn.execute(text(statement))
    yield schema, engine
    await engine.dispose()
