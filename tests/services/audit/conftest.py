"""Fixtures of the audit tests that need the database but not the broker: a migrated
schema, entries appended through the service's own append path, and the HTTP API over
a runtime that was bootstrapped but not started (no consumer, no jobs)."""

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit import service
from services.audit.bootstrap import bootstrap
from services.audit.config import AuditSettings
from services.audit.main import MIGRATIONS, build_app
from shared.app import Infrastructure, create_broker
from shared.auth import Role, mint_token
from shared.db import connect_raw, create_engine, create_sessions, migrate
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.services.audit.test_audit_records import valid
from tests.support import DATABASE_URL


def auth(role: Role, **claims: str) -> dict[str, str]:
    """Headers with a bearer token for ``role``."""
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def body(**payload: Any) -> dict[str, Any]:
    """A valid ``data.accessed`` record with a fresh event id and ``payload`` changed."""
    record = valid()
    record["event_id"] = str(uuid.uuid4())
    record["payload"].update(payload)
    if "subject_id" in payload:
        record["subject_id"] = payload["subject_id"]
    return record


@pytest.fixture
async def audit_schema(schema_factory: Callable[[str], str]) -> str:
    name = schema_factory("audit_api")
    engine = create_engine(DATABASE_URL, name, pool_size=1)
    await migrate(engine, MIGRATIONS, name)
    await engine.dispose()
    return name


@pytest.fixture
async def audit_engine(audit_schema: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DATABASE_URL, audit_schema, pool_size=4)
    yield engine
    await engine.dispose()


Append = Callable[[list[dict[str, Any]]], Any]


@pytest.fixture
async def append(audit_schema: str) -> AsyncIterator[Append]:
    """Append records to the log through the service's reading and writing."""
    conn: asyncpg.Connection = await connect_raw(DATABASE_URL, audit_schema)
    audit_log = service.AuditLog()  # the schema is new: the log is empty

    async def add(records: list[dict[str, Any]]) -> service.Prepared:
        ready = service.read([json.dumps(r).encode() for r in records]).ready
        assert await service.write(conn, audit_log, ready) == len(records)
        return ready

    yield add
    await conn.close()


@pytest.fixture
async def api(audit_schema: str, audit_engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The audit API on a bootstrapped runtime: no consumer, no jobs."""
    settings = AuditSettings(db_schema=audit_schema)
    app: FastAPI = build_app(settings)
    infra = Infrastructure(
        settings=settings,
        engine=audit_engine,
        sessions=create_sessions(audit_engine),
        broker=create_broker(settings),
    )
    app.state.runtime = await bootstrap(infra)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://audit") as client:
        yield client
