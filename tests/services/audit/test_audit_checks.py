"""The consent check after the fact: a disclosure naming a consent not heard of yet
waits on its own, and the entries behind it are judged on time (the clock is moved,
not waited for)."""

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit import checks, checks_repository, ingestion, repository
from services.audit.domain import ConsentChange, Entry, awaits_history
from shared.db import connect_raw, create_engine, create_sessions
from shared.events import ConsentChangedPayload, ConsentGranted
from tests.services.audit.conftest import Append, body
from tests.support import DATABASE_URL

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


def granted(consent_id: str, subject_id: str = "u-1") -> ConsentGranted:
    return ConsentGranted.create(
        producer="consent",
        subject_id=subject_id,
        payload=ConsentChangedPayload(
            consent_id=consent_id,
            version=3,
            user_id=subject_id,
            purpose="member_organisation_sharing",
            notice_version="2024-01-11",
            valid_from=datetime(2020, 1, 1, tzinfo=UTC),
            organisation_id=None,
            country=None,
            data_categories=[],
            valid_until=None,
        ),
    )


async def deferred(engine: AsyncEngine) -> set[int]:
    async with engine.connect() as conn:
        return {int(r[0]) for r in await conn.execute(text("SELECT seq FROM checks_deferred"))}


async def test_the_checks_put_off_in_the_database_are_exactly_those_the_domain_rule_puts_off(
    audit_schema: str, audit_engine: AsyncEngine, append: Append
) -> None:
    # The database puts waiting checks off without reading the entries out; the domain's
    # awaits_history stays the rule, and here both meet every kind of entry.
    sessions = create_sessions(audit_engine)
    clock = Clock()
    known = f"c-{uuid.uuid4()}"
    await checks.record_consents(sessions, [granted(known)])
    records = [
        body(decision=decision, legal_basis=basis, consent_id=consent_id)
        for decision in ("allow", "deny")
        for basis in ("consent", "contract", "legal_obligation")
        for consent_id in (None, "", known, f"c-{uuid.uuid4()}", f"c-{uuid.uuid4()}")
    ]
    await append(records)
    changes = [
        ConsentChange(
            consent_id=known,
            version=3,
            action="granted",
            user_id="u-1",
            purpose="member_organisation_sharing",
            organisation=None,
            country=None,
            at=datetime(2020, 1, 1, tzinfo=UTC),
            valid_until=None,
        )
    ]
    conn = await connect_raw(DATABASE_URL, audit_schema)
    try:
        stored = await checks_repository.entries_at(conn, range(len(records)))
    finally:
        await conn.close()
    waits = {seq for seq, entry, _ in stored if awaits_history(entry, changes)}
    assert len(waits) == 2  # allowed on consent, naming one of the consents never heard of

    clock.advance(6)
    await checks.check_settled(sessions, grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock)
    assert await deferred(audit_engine) == waits
    assert set(await verdicts(audit_engine)) == set(range(len(records))) - waits


async def test_a_check_put_off_is_put_off_without_its_entry_being_read_out(
    audit_engine: AsyncEngine, append: Append, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When consent events run late nearly every entry waits, and reading each one out to
    # put it off cost more than the rest of ingestion together.
    sessions = create_sessions(audit_engine)
    clock = Clock()
    await append([unknown_consent() for _ in range(50)] + [clear_violation()])
    read_out: list[Entry] = []
    to_entry = repository.to_entry

    def counted(row: Any) -> Entry:
        read_out.append(to_entry(row))
        return read_out[-1]

    monkeypatch.setattr(repository, "to_entry", counted)

    clock.advance(6)
    await checks.check_settled(sessions, grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock)
    assert len(await deferred(audit_engine)) == 50
    assert len(read_out) == 1  # the violation, which is judged
    assert set(await verdicts(audit_engine)) == {50}


@pytest.mark.slow
async def test_a_round_costs_the_same_however_many_checks_wait(
    audit_engine: AsyncEngine, append: Append
) -> None:
    # Each round (every second, beside ingestion) asks which waiting checks can be made
    # now; walking all of them for it cost 290 ms a round at 100,000 waiting.
    sessions = create_sessions(audit_engine)
    clock = Clock()

    async def round_ms() -> float:
        best = float("inf")
        for _ in range(5):
            began = time.perf_counter()
            await checks.check_settled(
                sessions, grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock
            )
            best = min(best, time.perf_counter() - began)
        return best * 1000

    await append([unknown_consent() for _ in range(100)])
    clock.advance(6)
    await checks.check_settled(sessions, grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock)
    few = await round_ms()
    for _ in range(6):
        await append([unknown_consent() for _ in range(5000)])
    clock.now = datetime.now(UTC) + GRACE + timedelta(seconds=1)
    await checks.check_settled(sessions, grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock)
    assert len(await deferred(audit_engine)) == 30_100
    many = await round_ms()
    # measured: about 1 ms both; 16 ms at 30,100 when every waiting check was walked
    assert many < 2 * few + 4, (few, many)


async def test_two_replicas_rounds_judge_each_entry_once_without_failing(
    audit_schema: str, audit_engine: AsyncEngine, append: Append
) -> None:
    # Two replicas run the consent check on one log: each round waits for the other's.
    await append([body(legal_basis="contract") for _ in range(3000)])
    other = create_engine(DATABASE_URL, audit_schema, pool_size=2)
    clock = Clock()
    clock.advance(6)
    try:
        looked_at = await asyncio.gather(
            *(
                checks.check_settled(
                    create_sessions(engine), grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock
                )
                for engine in (audit_engine, other)
            )
        )
    finally:
        await other.dispose()
    assert sum(looked_at) == 3000
    assert len(await verdicts(audit_engine)) == 3000


async def test_an_entry_written_before_one_read_earlier_is_not_skipped(
    audit_engine: AsyncEngine, audit_schema: str
) -> None:
    # Two replicas: one reads its record first but writes it second, so the log's
    # first entry was recorded after its second. A round that judged the settled second
    # entry alone would move the check's frontier past the first for good.
    conn = await connect_raw(DATABASE_URL, audit_schema)
    try:
        read_earlier = ingestion.read([json.dumps(body(legal_basis="contract")).encode()]).ready
        await asyncio.sleep(0.3)
        read_later = ingestion.read([json.dumps(body(legal_basis="contract")).encode()]).ready
        audit_log = ingestion.AuditLog()
        assert await ingestion.write(conn, audit_log, read_later) == 1  # seq 0
        assert await ingestion.write(conn, audit_log, read_earlier) == 1  # seq 1
    finally:
        await conn.close()
    async with audit_engine.connect() as db:
        rows = (await db.execute(text("SELECT seq, recorded_at FROM entries"))).tuples().all()
        recorded: dict[int, datetime] = {int(seq): at for seq, at in rows}
    assert recorded[0] > recorded[1] + timedelta(seconds=0.2)

    sessions = create_sessions(audit_engine)
    clock = Clock()
    clock.now = recorded[0] + GRACE - timedelta(seconds=0.1)  # the second settled, not the first
    await checks.check_settled(sessions, grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock)
    assert await verdicts(audit_engine) == {}  # the first is not settled: the round stops there
    clock.advance(1)
    await checks.check_settled(sessions, grace=GRACE, unknown_after=UNKNOWN_AFTER, clock=clock)
    assert sorted(await verdicts(audit_engine)) == [0, 1]
