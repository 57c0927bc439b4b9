"""python -m deploy.migrate: the owner migrates a schema and grants the service's role."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable

import asyncpg
import pytest

from services.consent.config import ConsentSettings
from shared.db import asyncpg_dsn
from tests.support import ROOT

pytestmark = pytest.mark.integration


async def test_the_migration_step_migrates_as_the_owner_and_grants_the_service(
    schema_factory: Callable[[str], str],
) -> None:
    schema = schema_factory("migrate")
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "deploy.migrate", "consent"],
        env={**os.environ, "CONSENT_DB_SCHEMA": schema},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    settings = ConsentSettings()
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        owner = await conn.fetchval(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema
        )
        can_write = await conn.fetchval(
            "SELECT has_table_privilege($1, 'INSERT')", f'"{schema}".consent_history'
        )
        can_change = await conn.fetchval(
            "SELECT has_table_privilege($1, 'UPDATE')", f'"{schema}".consent_history'
        )
    finally:
        await conn.close()
    assert owner != (await role_of(settings.database_url))
    assert owner == await role_of(settings.migration_database_url)
    assert (can_write, can_change) == (True, False)


async def role_of(url: str) -> str:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return str(await conn.fetchval("SELECT current_user"))
    finally:
        await conn.close()


def test_an_unknown_service_is_refused_with_its_name() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deploy.migrate", "billing"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown service billing" in done.stderr
