"""Every service starts against the real broker and database, migrates, and documents itself."""

import asyncio
import gc
import importlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from shared import events
from shared.db import create_engine
from tests.support import DATABASE_URL

pytestmark = pytest.mark.integration

PRODUCES = {
    "registry": [events.USER_REGISTERED, events.USER_ERASED, events.DATA_ACCESSED],
    "consent": [events.CONSENT_GRANTED, events.CONSENT_WITHDRAWN],
    "audit": [events.AUDIT_VIOLATION_DETECTED],
    "breach": [
        events.BREACH_DETECTED,
        events.BREACH_NOTIFICATION_REQUESTED,
        events.BREACH_OBLIGATION_REQUIRED,
        events.BREACH_OBLIGATION_WARNING,
        events.BREACH_OBLIGATION_MISSED,
    ],
    "notifier": [events.NOTIFICATION_DELIVERED, events.NOTIFICATION_FAILED],
    "detection": [events.SECURITY_ALERT_RAISED],
}


async def _ready(http: httpx.AsyncClient, within: float = 30.0) -> httpx.Response:
    """The last /readyz answer, polled until 200 or `within` seconds pass.

    A service that follows a topic (the consent replica's directory) is not ready until
    the broker has assigned it its partitions, which takes a rebalance after startup.
    """
    deadline = asyncio.get_running_loop().time() + within
    while True:
        ready = await http.get("/readyz")
        if ready.status_code == 200 or asyncio.get_running_loop().time() > deadline:
            return ready
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("service", sorted(PRODUCES))
async def test_service_starts_migrates_and_documents_itself(
    service: str, schema_factory: Callable[[str], str]
) -> None:
    main = importlib.import_module(f"services.{service}.main")
    config = importlib.import_module(f"services.{service}.config")
    settings_cls = getattr(config, f"{service.capitalize()}Settings")
    schema = schema_factory(service)
    app = main.build_app(
        settings_cls(db_schema=schema, log_json=True, db_pool_size=3, topic_prefix=f"{schema}.")
    )

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
            health = await http.get("/healthz")
            ready = await _ready(http)
            pool_size = app.state.runtime.engine.pool.size()
            asyncapi = await http.get("/asyncapi.json")
            openapi = await http.get("/openapi.json")

    assert health.json() == {"status": "ok", "service": service}
    assert ready.status_code == 200, ready.text
    assert pool_size == 3
    addresses = {c["address"] for c in asyncapi.json()["channels"].values()}
    assert {f"{schema}.{topic}" for topic in PRODUCES[service]} <= addresses
    assert openapi.json()["info"]["title"] == f"{service} service"

    engine = create_engine(DATABASE_URL, schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            tables = set(
                (
                    await conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                        {"s": schema},
                    )
                ).scalars()
            )
            # A NOTIFY trigger would serialise every commit that stages an event.
            outbox_triggers = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"
                        " AND tgrelid = CAST(:t AS regclass)"
                    ),
                    {"t": f'"{schema}".outbox'},
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    assert {"outbox", "processed_events", "alembic_version"} <= tables
    assert outbox_triggers == 0


async def test_a_served_process_freezes_its_start_up_heap_and_a_test_app_does_not(
    schema_factory: Callable[[str], str],
) -> None:
    # Full collections walked the frameworks' start-up heap: p99 pauses of ~100 ms.
    from services.registry.config import RegistrySettings
    from services.registry.main import build_app

    def started(freeze: bool) -> Any:
        schema = schema_factory("registry")
        app = build_app(
            RegistrySettings(db_schema=schema, log_json=True, topic_prefix=f"{schema}.")
        )
        if freeze:
            app.state.freeze_heap = True  # what serve() sets
        return app.router.lifespan_context(app)

    gc.unfreeze()
    try:
        async with started(freeze=False):
            assert gc.get_freeze_count() == 0
        async with started(freeze=True):
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
