"""``verify`` derives again every stored value that entered a leaf or a digest, and
names the first thing that differs, in log order."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit import ingestion, service, signing
from services.audit import verify as verification
from services.audit.config import AuditSettings
from shared.db import create_sessions
from shared.events import UserErased, UserErasedPayload
from tests.services.audit.conftest import Append, body

pytestmark = pytest.mark.integration

SIGNER = signing.Signer.from_seed(AuditSettings().signing_seed())
Tamper = Callable[[str, dict[str, Any]], Awaitable[None]]
LOG_TABLES = ("entries", "entry_personal", "tree_nodes", "tree_heads")


@pytest.fixture
def tamper(audit_engine: AsyncEngine) -> Tamper:
    """Change the stored log behind the service's back, as the owner with triggers off."""

    async def run(statement: str, params: dict[str, Any]) -> None:
        # As the owner (no superuser): the triggers are switched off inside the
        # transaction and on again before it commits.
        async with audit_engine.begin() as conn:
            for table in LOG_TABLES:
                await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            await conn.execute(text(statement), params)
            for table in LOG_TABLES:
                await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))

    return run


async def log_of(audit_engine: AsyncEngine, append: Append, count: int) -> list[str]:
    """``count`` entries, one subject each, and a signed head over them; their event ids."""
    ready = await append([body(subject_id=f"s-{i}") for i in range(count)])
    sessions = create_sessions(audit_engine)
    audit_log = ingestion.AuditLog()
    await ingestion.load(sessions, audit_log)
    assert await signing.sign_tree_head(sessions, audit_log, SIGNER) == count
    return ready.event_ids


async def report(audit_engine: AsyncEngine) -> verification.Report:
    return await verification.verify(create_sessions(audit_engine), SIGNER.public_key)


async def test_a_changed_subject_country_names_its_own_entry(
    audit_engine: AsyncEngine, append: Append, tamper: Tamper
) -> None:
    ids = await log_of(audit_engine, append, 40)
    assert (await report(audit_engine)).ok
    await tamper("UPDATE entry_personal SET subject_country = 'DE' WHERE seq = 17", {})

    found = (await report(audit_engine)).first_mismatch

    assert found == {
        "seq": 17,
        "event_id": ids[17],
        "problem": "the entry's personal part no longer matches its digest",
    }


async def test_a_changed_salt_names_its_own_entry(
    audit_engine: AsyncEngine, append: Append, tamper: Tamper
) -> None:
    await log_of(audit_engine, append, 20)
    await tamper("UPDATE entry_personal SET salt = '\\x00'::bytea WHERE seq = 3", {})
    found = (await report(audit_engine)).first_mismatch
    assert found is not None and found["seq"] == 3


async def test_a_personal_part_deleted_without_an_erasure_is_reported_one_erased_is_not(
    audit_engine: AsyncEngine, append: Append, tamper: Tamper
) -> None:
    await log_of(audit_engine, append, 20)
    sessions = create_sessions(audit_engine)
    erasure = UserErased.create(
        producer="registry",
        subject_id="s-5",
        payload=UserErasedPayload(user_id="s-5", erased_at=datetime.now(UTC), requested_by="s-5"),
    )
    assert await service.erase(sessions, erasure) == 1
    assert (await report(audit_engine)).ok  # erased on purpose: still valid

    await tamper("DELETE FROM entry_personal WHERE seq = 9", {})
    found = (await report(audit_engine)).first_mismatch
    assert found is not None and found["seq"] == 9
    assert "no erasure" in found["problem"]


async def test_a_changed_node_is_named_before_a_later_changed_entry(
    audit_engine: AsyncEngine, append: Append, tamper: Tamper
) -> None:
    await log_of(audit_engine, append, 40)
    # node (4, 0) covers entries 0-15 and is complete at entry 15, before entry 30
    await tamper("UPDATE tree_nodes SET hash = '\\x00'::bytea WHERE level = 4 AND idx = 0", {})
    await tamper("UPDATE entries SET actor = 'someone else' WHERE seq = 30", {})

    found = (await report(audit_engine)).first_mismatch

    assert found == {
        "node": [4, 0],
        "problem": "a stored tree node differs from the recomputed one",
    }


async def test_a_changed_entry_is_named_before_a_later_changed_node(
    audit_engine: AsyncEngine, append: Append, tamper: Tamper
) -> None:
    ids = await log_of(audit_engine, append, 40)
    await tamper("UPDATE entries SET actor = 'someone else' WHERE seq = 2", {})
    await tamper("UPDATE tree_nodes SET hash = '\\x00'::bytea WHERE level = 4 AND idx = 1", {})
    found = (await report(audit_engine)).first_mismatch
    assert found is not None and (found["seq"], found["event_id"]) == (2, ids[2])


async def test_entries_lost_after_a_signed_head_are_reported_missing(
    audit_engine: AsyncEngine, append: Append, tamper: Tamper
) -> None:
    await log_of(audit_engine, append, 10)
    await tamper("DELETE FROM entry_personal WHERE seq = 9", {})
    await tamper("DELETE FROM entries WHERE seq = 9", {})
    found = (await report(audit_engine)).first_mismatch
    assert found is not None and found["seq"] == 9
    assert found["problem"].startswith("entry missing")
