"""What keeps a breach of 100,000 people fast: a page of notices goes into the outbox with
one statement, its notices are copies of one validated account, and outcomes are applied
a batch to a statement."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.breach import evidence, repository, resolution
from services.breach.models import BreachRow
from shared import events
from shared.clock import StoredClock
from shared.db import create_sessions, transaction
from shared.outbox import stage_many
from tests.services.breach.conftest import (
    T0,
    Service,
    outcome,
    prefix_of,
    publish,
    running,
    user_ids,
)
from tests.services.breach.test_breach_subjects import registered
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Statements:
    """The statements an engine sends, each with whether it went as an executemany."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.sent: list[tuple[str, bool]] = []
        self._engine = engine.sync_engine

    def __enter__(self) -> "Statements":
        event.listen(self._engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, _c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        self.sent.append((" ".join(statement.split()), many))

    def touching(self, table: str) -> list[tuple[str, bool]]:
        """The statements that write ``table``."""
        return [s for s in self.sent if f"INTO {table} " in s[0] or f"UPDATE {table} " in s[0]]


async def test_a_page_of_notices_goes_into_the_outbox_with_one_statement(
    service: Service, engine: AsyncEngine
) -> None:
    declared = await service.declare()
    people = user_ids("paged", 2500)
    sessions = create_sessions(engine)
    async with sessions() as session:
        breach = await repository.get_breach(session, UUID(declared["breach_id"]))
    assert breach is not None
    staged = resolution.notices(breach, people, ["email_address"])

    with Statements(engine) as statements:
        async with transaction(sessions) as session:
            await stage_many(session, staged)

    # one INSERT, not an executemany of 2,500 (nor a batch of them)
    assert [many for _, many in statements.touching("outbox")] == [False]
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT event_id, key, value FROM outbox WHERE topic = :t ORDER BY id"),
            {"t": prefix_of(service.schema) + events.BREACH_NOTIFICATION_REQUESTED},
        )
        stored = [(event_id, key, json.loads(value)) for event_id, key, value in rows]
    assert [key for _, key, _ in stored] == people
    assert len({event_id for event_id, _, _ in stored}) == len(people)
    for (event_id, key, value), user_id in zip(stored, people, strict=True):
        read = events.BreachNotificationRequested.model_validate(value)
        assert read.event_id == event_id and read.subject_id == user_id == key
        assert read.payload.user_id == user_id
        assert read.payload.notice_id == f"breach:{declared['breach_id']}:{user_id}"


def test_each_notice_of_a_page_says_what_one_built_alone_would() -> None:
    """The copies carry the breach's whole account; only the person and the event id differ."""
    aware = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
    breach = BreachRow(
        breach_id=uuid4(),
        reference="BR-2031-0001",
        title="Exported contact list left on a public bucket",
        what_happened="A CSV export was readable by anyone with the link.",
        kinds=["confidentiality"],
        started_at=aware - timedelta(days=3),
        detected_at=aware - timedelta(hours=1),
        aware_at=aware,
        data_categories=["email_address", "full_name"],
        likely_consequences="Phishing.",
        measures_taken="The bucket was closed.",
        what_you_can_do="Be wary of emails asking for your password.",
        contact_point="dpo@example.org",
        declared_by="sec-lead",
        declared_at=aware,
    )
    page = resolution.notices(breach, ["u-1", "u-2", "u-3"], ["email_address"])
    alone = resolution.notices(breach, ["u-2"], ["email_address"])[0]

    assert [n.subject_id for n in page] == ["u-1", "u-2", "u-3"]
    assert len({n.event_id for n in page}) == 3
    assert page[1].payload == alone.payload
    assert page[1].model_dump(exclude={"event_id", "occurred_at"}) == alone.model_dump(
        exclude={"event_id", "occurred_at"}
    )
    assert page[2].payload.notice_id == f"breach:{breach.breach_id}:u-3"
    assert page[0].payload.user_id == "u-1"  # the template is not left pointing elsewhere


async def test_a_batch_of_outcomes_is_applied_with_one_update_and_kept_with_one_insert(
    service: Service, engine: AsyncEngine
) -> None:
    people = user_ids("outcome", 600)
    declared = await service.declare(scope=[{"kind": "users", "user_ids": people}])
    breach_id = declared["breach_id"]
    await service.resolved(breach_id)
    bounced, accepted = people[:100], people[100:]
    batch = [
        evidence.Reported(outcome(breach_id, u, at=T0), events.NOTIFICATION_DELIVERED)
        for u in people
    ] + [
        evidence.Reported(
            outcome(breach_id, u, at=T0 + timedelta(minutes=5), failed=True),
            events.NOTIFICATION_FAILED,
        )
        for u in bounced
    ]

    with Statements(engine) as statements:
        assert await evidence.on_outcomes(create_sessions(engine), batch) == 700

    assert [many for _, many in statements.touching("affected")] == [False]
    assert [many for _, many in statements.touching("outcomes")] == [False]
    counts = (await service.breach(breach_id))["counts"]
    assert counts["delivered"] == len(accepted) and counts["failed"] == len(bounced)
    person = (await service.people(breach_id))[bounced[0]]
    assert person["state"] == "failed" and person["delivered_at"] is not None
    assert person["smtp_code"] == 550 and person["attempts"] == 1
    async with engine.connect() as conn:
        kept = await conn.execute(
            text("SELECT count(*), count(*) FILTER (WHERE applied) FROM outcomes")
        )
        assert tuple(kept.one()) == (700, 700)


async def test_with_a_topic_prefix_the_service_reads_and_writes_only_its_own_topics(
    schema: str, engine: AsyncEngine
) -> None:
    prefix = f"{schema}."
    person, elsewhere = user_ids("prefixed", 2)
    known = text("SELECT count(*) FROM subjects WHERE user_id = :u")
    async with running(schema, topic_prefix=prefix) as http:
        service = Service(http=http, schema=schema, engine=engine, clock=StoredClock(engine))
        await service.clock.freeze(T0)
        at = T0 - timedelta(days=30)
        await publish(registered(person, "PH", at), prefix=prefix)
        # the topic without the prefix: not this one's
        await publish(registered(elsewhere, "PH", at), prefix="")

        async def registered_here() -> bool:
            async with engine.connect() as conn:
                return int((await conn.execute(known, {"u": person})).scalar_one()) == 1

        await wait_until(registered_here, 30, "the registration on the prefixed topic")
        declared = await service.declare(scope=[{"kind": "country", "country": "PH"}])
        breach_id = declared["breach_id"]
        await service.resolved(breach_id)
        await publish(outcome(breach_id, person, at=T0), prefix=prefix)
        # a later bounce on the shared topic would win, were it read
        await publish(
            outcome(breach_id, person, at=T0 + timedelta(hours=1), failed=True), prefix=""
        )

        async def delivered() -> bool:
            return bool((await service.breach(breach_id))["counts"]["delivered"] == 1)

        await wait_until(delivered, 30, "the outcome on the prefixed topic")
        await asyncio.sleep(2)
        counts = (await service.breach(breach_id))["counts"]
        async with engine.connect() as conn:
            topics = {t for (t,) in await conn.execute(text("SELECT topic FROM outbox"))}
            elsewhere_known = (await conn.execute(known, {"u": elsewhere})).scalar_one()
    assert counts["affected"] == counts["delivered"] == 1 and counts["failed"] == 0
    assert elsewhere_known == 0
    assert topics == {
        f"{prefix}{events.BREACH_DETECTED}",
        f"{prefix}{events.BREACH_NOTIFICATION_REQUESTED}",
    }
