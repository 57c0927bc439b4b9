"""How the audit service is put together: its start-up without the native module, and
the writer's retries."""

from typing import Any

import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from services.audit import bootstrap as audit_bootstrap
from services.audit import ingest, ingestion
from services.audit.bootstrap import bootstrap
from services.audit.config import AuditSettings
from shared.app import Infrastructure, create_broker
from shared.db import create_sessions

pytestmark = pytest.mark.integration


async def test_without_the_native_module_the_service_says_so_once_and_reads_in_python(
    audit_schema: str, audit_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingestion, "audit_native", None)
    settings = AuditSettings(db_schema=audit_schema)
    infra = Infrastructure(
        settings=settings,
        engine=audit_engine,
        sessions=create_sessions(audit_engine),
        broker=create_broker(settings),
    )
    with capture_logs() as logs:
        monkeypatch.setattr(audit_bootstrap, "log", structlog.get_logger(audit_bootstrap.__name__))
        await bootstrap(infra)
    missing = [entry for entry in logs if entry["event"] == "audit.native_missing"]
    assert len(missing) == 1 and "make venv" in missing[0]["build"]


async def test_the_writer_retries_a_failing_write_until_it_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[int] = []

    async def flaky(conn: Any, audit_log: Any, ready: Any) -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("the database refused the batch")
        return 1

    class Connection:
        def is_closed(self) -> bool:
            return False

    async def connect() -> Any:
        return Connection()

    monkeypatch.setattr(ingestion, "write", flaky)
    writer = ingest.Writer(connect, ingestion.AuditLog())
    ready = ingestion.Prepared(event_ids=[], leaves=[], rows=[], personal=[])
    with capture_logs() as logs:
        # The module's logger was cached by earlier tests; a fresh one sees the capture.
        monkeypatch.setattr(ingest, "log", structlog.get_logger(ingest.__name__))
        await writer._write(ready)
    assert len(attempts) == 3
    waits = [e["retry_in"] for e in logs if e["event"] == "audit.append_failed"]
    assert waits == [0.2, 0.4]  # backing off, exponentially


NOT_JSON = {
    "/disclosures/export",  # streams CSV or JSON lines
    "/entries",  # streams JSON lines, each an entry's leaf data
    "/checkpoint",  # a C2SP signed note, text
    "/tile/{tile_path}",  # C2SP tiles and entry bundles, bytes
}


def test_every_route_documents_the_model_it_returns() -> None:
    from services.audit.main import build_app

    spec = build_app(AuditSettings()).openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "audit" not in operation.get("tags", []) or path in NOT_JSON:
                continue
            schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
            schema = schema.get("items", schema)
            assert "$ref" in schema, f"{method.upper()} {path} returns {schema}"
