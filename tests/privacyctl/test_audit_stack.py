"""privacyctl's auditor commands against the real audit app and database: the trail's
filters, its export equal to the rows the API returns for the same filter, the proof of
one entry, and ``log verify`` on a good log and on one changed in the database."""

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from client import Client, audit
from privacyctl import core
from privacyctl.core import Exit
from services.audit import ingestion, signing
from services.audit.bootstrap import bootstrap
from services.audit.config import AuditSettings
from services.audit.main import build_app
from shared.app import Infrastructure, create_broker
from shared.auth import Role
from shared.db import create_sessions
from tests.privacyctl.conftest import token
from tests.privacyctl.stack import Stack
from tests.services.audit.conftest import Append, body
from tests.services.audit.test_audit_verify import LOG_TABLES

pytestmark = pytest.mark.integration
ORGS = ("ph-philexport", "th-board-of-trade")


@pytest.fixture
async def app(audit_schema: str, audit_engine: AsyncEngine) -> FastAPI:
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
    return app


@pytest.fixture
async def stack(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Stack]:
    yield Stack(monkeypatch, tmp_path, {"audit": app})


async def log_of(app: FastAPI, audit_engine: AsyncEngine, append: Append, count: int) -> None:
    """``count`` entries over two organisations and two purposes, and a signed head."""
    purposes = ("member_organisation_sharing", "aggregate_admin_reporting")
    await append(
        [
            body(subject_id=f"s-{i}", organisation_id=ORGS[i % 2], purpose=purposes[i % 3 == 0])
            for i in range(count)
        ]
    )
    sessions = create_sessions(audit_engine)
    audit_log = ingestion.AuditLog()
    await ingestion.load(sessions, audit_log)
    assert await signing.sign_tree_head(sessions, audit_log, app.state.runtime.signer) == count


def api_rows(filters: audit.Filters) -> list[dict[str, Any]]:
    """The rows the API returns for ``filters``, page by page, through the client."""
    with Client(token=token(Role.AUDITOR), transport=core.TRANSPORT) as api:
        return [d.model_dump(mode="json") for d in api.pages(audit.disclosures(filters, limit=7))]


async def test_trail_filters_and_export_equal_the_apis_rows(
    app: FastAPI, audit_engine: AsyncEngine, append: Append, stack: Stack, tmp_path: Path
) -> None:
    await log_of(app, audit_engine, append, 40)
    filters = audit.Filters(organisation=ORGS[0], purpose="member_organisation_sharing")
    expected = await __import__("asyncio").to_thread(api_rows, filters)
    assert 0 < len(expected) < 40

    args = ["--organisation", ORGS[0], "--purpose", "member_organisation_sharing"]
    listed = await stack.run(Role.AUDITOR, "trail", *args, "--limit", "0", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [json.loads(line) for line in listed.stdout.splitlines()] == expected

    jsonl = tmp_path / "trail.jsonl"
    exported = await stack.run(Role.AUDITOR, "trail", "export", *args, "-o", str(jsonl), "--json")
    assert exported.exit_code == 0, exported.stderr
    assert json.loads(exported.stdout)["rows"] == len(expected)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [row["event_id"] for row in lines] == [row["event_id"] for row in expected]
    assert [row["seq"] for row in lines] == [row["seq"] for row in expected]

    as_csv = tmp_path / "trail.csv"
    exported = await stack.run(
        Role.AUDITOR, "trail", "export", *args, "--format", "csv", "-o", str(as_csv)
    )
    assert exported.exit_code == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.read_text())))
    assert [r["event_id"] for r in rows] == [row["event_id"] for row in expected]

    one = await stack.run(Role.AUDITOR, "trail", "--subject", "s-3", "--json")
    assert [json.loads(line)["subject_id"] for line in one.stdout.splitlines()] == ["s-3"]
    mine = await stack.run(Role.SUBJECT, "me", "report", "--json", user_id="s-3")
    assert [json.loads(line)["subject_id"] for line in mine.stdout.splitlines()] == ["s-3"]
    violations = await stack.run(Role.AUDITOR, "violations", "--json")
    assert violations.exit_code == 0 and violations.stdout == ""  # nothing judged yet
    overdue = await stack.run(Role.AUDITOR, "recipients", "overdue", "--json")
    assert overdue.exit_code == 0 and overdue.stdout == ""


async def test_log_verify_passes_and_then_names_the_changed_entry(
    app: FastAPI, audit_engine: AsyncEngine, append: Append, stack: Stack
) -> None:
    await log_of(app, audit_engine, append, 40)
    head = await stack.run(Role.AUDITOR, "log", "head", "--json")
    assert json.loads(head.stdout)["signature_valid"] is True
    proof = await stack.run(Role.SECURITY, "log", "proof", "17", "--json")
    assert json.loads(proof.stdout)["ok"] is True, proof.stderr
    good = await stack.run(Role.AUDITOR, "log", "verify", "--json")
    assert good.exit_code == 0, good.stderr
    assert json.loads(good.stdout)["ok"] is True

    from sqlalchemy import text

    async with audit_engine.begin() as conn:  # as the owner, triggers off for the change
        for table in LOG_TABLES:
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        await conn.execute(text("UPDATE entries SET purpose = 'marketing' WHERE seq = 23"))
        for table in LOG_TABLES:
            await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))

    bad = await stack.run(Role.AUDITOR, "log", "verify", "--json")
    assert bad.exit_code == Exit.FAILED
    assert json.loads(bad.stdout)["first_mismatch"]["seq"] == 23
    assert "entry 23" in bad.stderr
    proof = await stack.run(Role.AUDITOR, "log", "proof", "23")
    assert proof.exit_code == Exit.FAILED and "is NOT in the tree" in proof.stdout
