"""``GET /entries/{seq}`` costs the same at any log size: a lookup by position in each
table, whatever plan a prepared statement settles on."""

import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit.config import AuditSettings
from services.audit.main import build_app
from shared.app import Infrastructure, Runtime, create_broker
from shared.auth import Role
from shared.db import create_sessions
from tests.services.audit.conftest import auth

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SIZE = 300_000
FILL = """
INSERT INTO entries SELECT g, md5(g::text)::uuid, 'registry',
    timestamptz '2026-01-01' + g * interval '10 ms',
    timestamptz '2026-01-01' + g * interval '10 ms' + interval '1 ms',
    'org-' || (g % 58), 'PH', 'analyst', 'subject-' || (g % 100000), ARRAY['email_address'],
    'member_organisation_sharing', 'consent', NULL, 'registry_api', 'allow', NULL,
    'consent-' || g, 1, NULL, sha256(g::text::bytea), sha256(('leaf' || g)::bytea)
FROM generate_series(0, :last) g
"""
PERSONAL = (
    "INSERT INTO entry_personal SELECT g, '\\x00'::bytea, 'PH' FROM generate_series(0, :last) g"
)


@pytest.fixture
async def big_log(audit_schema: str, audit_engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """300,000 entries written in one statement each for both tables, as a log reads
    before its statistics are gathered (autovacuum is off for the test's tables)."""
    async with audit_engine.begin() as conn:
        for table in ("entries", "entry_personal"):
            await conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        await conn.execute(text(FILL), {"last": SIZE - 1})
        await conn.execute(text(PERSONAL), {"last": SIZE - 1})
    settings = AuditSettings(db_schema=audit_schema)
    app: FastAPI = build_app(settings)
    infra = Infrastructure(
        settings=settings,
        engine=audit_engine,
        sessions=create_sessions(audit_engine),
        broker=create_broker(settings),
    )
    app.state.runtime = Runtime(**vars(infra))  # the routes read; nothing needs to run
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://audit") as client:
        yield client


async def lookup_ms(http: httpx.AsyncClient, seq: int, repeat: int = 12) -> float:
    """The median time of the lookup once a prepared statement's generic plan is in use
    (PostgreSQL tries it from the sixth execution on)."""
    samples = []
    headers = auth(Role.AUDITOR)
    for _ in range(repeat):
        began = time.perf_counter()
        response = await http.get(f"/entries/{seq}", headers=headers)
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(samples[6:])


async def test_the_last_of_300000_entries_is_read_as_fast_as_the_first(
    big_log: httpx.AsyncClient,
) -> None:
    first = await lookup_ms(big_log, 0)
    last = await lookup_ms(big_log, SIZE - 1)
    middle = await lookup_ms(big_log, SIZE // 2)
    shown: dict[str, Any] = (
        await big_log.get(f"/entries/{SIZE - 1}", headers=auth(Role.AUDITOR))
    ).json()
    assert shown["seq"] == SIZE - 1 and shown["subject_country"] == "PH"
    assert last < 25, f"{last:.1f} ms at {SIZE - 1:,} ({first:.1f} ms at 0)"
    assert max(last, middle) < 3 * first + 5, f"{first:.1f}, {middle:.1f}, {last:.1f} ms"
