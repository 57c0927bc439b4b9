"""The consent check after the fact: a disclosure naming a consent not heard of yet
waits on its own, and the entries behind it are judged on time (the clock is moved,
not waited for)."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit import checks
from shared.db import create_sessions
from shared.events import ConsentChangedPayload, ConsentGranted
from tests.services.audit.conftest import Append, body

pytestmark = pytest.mark.integration

GRACE = timedelta(seconds=5)
UNKNOWN_AFTER = timedelta(seconds=300)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def verdicts(engine: AsyncEngine) -> dict[int, tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT seq, verdict, reason FROM checks ORDER BY seq"))
        return {int(seq): (verdict, reason) for seq, verdict, reason in rows}


async def announced(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT value FROM outbox ORDER BY id"))
        return [json.loads(row[0])["payload"]["log_index"] for row in rows]


def unknown_consent() -> dict[str, object]:
    return body(legal_basis="consent", consent_id=f"c-{uuid.uuid4()}", decision="allow")


def clear_violation() -> dict[str, object]:
    return body(legal_basis="legal_obligation", legal_reference=None, decision="allow")


async def test_an_unknown_consent_waits_alone_and_a_violation_behind_it_is_found_on_time(
    audit_engine: AsyncEngine, append: Append
) -> None:
    sessions = create_sessions(audit_engine)
    clock = Clock()
    await append([unknown_consent(), clear_violation()])

    async def check() -> int:
        return await checks.check_settled(
            sessions, grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock
        )

    clock.advance(6)  # past the grace period: seconds, not minutes
    await check()
    found = await verdicts(audit_engine)
    assert found == {1: ("violation", "legal obligation claimed without a reference")}
    assert await announced(audit_engine) == [1]

    clock.advance(200)  # still within AUDIT_CHECK_UNKNOWN_AFTER_SECONDS: it waits on
    await check()
    assert 0 not in await verdicts(audit_engine)

    clock.advance(100)
    await check()
    verdict, reason = (await verdicts(audit_engine))[0]
    assert verdict == "violation" and "unknown to the consent history" in reason
    assert await announced(audit_engine) == [1, 0]
    await check()  # nothing is checked twice
    assert len(await verdicts(audit_engine)) == 2


async def test_a_waiting_disclosure_is_judged_once_its_consent_arrives(
    audit_engine: AsyncEngine, append: Append
) -> None:
    sessions = create_sessions(audit_engine)
    clock = Clock()
    waiting = unknown_consent()
    await append([waiting, body(legal_basis="contract"), body(legal_basis="contract")])
    clock.advance(6)
    await checks.check_settled(sessions, grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock)
    assert sorted(await verdicts(audit_engine)) == [1, 2]

    payload = waiting["payload"]
    assert isinstance(payload, dict)
    granted = ConsentGranted.create(
        producer="consent",
        subject_id=payload["subject_id"],
        payload=ConsentChangedPayload(
            consent_id=payload["consent_id"],
            version=payload["consent_version"],
            user_id=payload["subject_id"],
            purpose=payload["purpose"],
            notice_version="2024-01-11",
            valid_from=datetime(2020, 1, 1, tzinfo=UTC),
            organisation_id=None,
            country=None,
            data_categories=[],
            valid_until=None,
        ),
    )
    await checks.record_consents(sessions, [granted])
    clock.advance(1)
    await checks.check_settled(sessions, grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock)

    verdict, reason = (await verdicts(audit_engine))[0]
    assert verdict == "valid", reason
