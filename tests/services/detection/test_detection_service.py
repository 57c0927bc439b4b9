"""Detection on the real broker and database: an injected exfiltration against a
generated history raises one incident within 10 s; a restart keeps the baselines and
raises nothing twice; a triaged incident is closed and later alerts open a new one; each
rule fires through the service; unreadable events are dead-lettered with the reason."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from shared import events
from shared.db import create_engine
from shared.events import Decision, Rule
from shared.producers import create_producer
from tests.services.detection.conftest import (
    AUDITOR,
    Detection,
    history,
    prefix_of,
    read,
    running,
)
from tests.support import DATABASE_URL, KAFKA, read_topic, unique, wait_until

pytestmark = pytest.mark.integration

# The exfiltration's hour: an hour ago, ten minutes in (its two minutes stay in one hour).
T = datetime.now(UTC).replace(minute=10, second=0, microsecond=0) - timedelta(hours=1)


def exfiltration(org: str, n: int = 5000, *, start: datetime = T, tag: str = "victim") -> list[Any]:
    """``n`` distinct people read by ``org`` within two minutes from ``start``."""
    return [
        read(org, f"{org}-{tag}-{i:05d}", start + timedelta(seconds=i * 120 / n)) for i in range(n)
    ]


async def test_an_exfiltration_raises_one_incident_within_ten_seconds_and_history_none(
    schema_factory: Callable[[str], str],
) -> None:
    schema, org = schema_factory("detection"), unique("ph-exfil")
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    try:
        async with running(schema) as http:
            d = Detection(http, schema, engine, prefix_of(schema))
            usual = history(org, T)
            await d.publish(*usual)
            await d.counted(org, len(usual))
            assert await d.incidents() == []  # tens a day for two weeks: nothing to see

            await d.publish(*exfiltration(org))
            loop = asyncio.get_running_loop()
            ingested = loop.time()

            async def incident() -> bool:
                return len(await d.incidents()) >= 1

            await wait_until(incident, 10, "an incident within 10 s of the last read")
            latency = loop.time() - ingested
            await d.counted(org, len(usual) + 5000)
            (found,) = await d.incidents()
            alerts = await d.alerts()
    finally:
        await engine.dispose()
    assert latency < 10
    rules = {a["rule"] for a in alerts}
    assert rules == {Rule.VOLUME_RATE, Rule.VOLUME_BREADTH}
    assert {a["incident_id"] for a in alerts} == {str(found["incident_id"])}
    assert found["alerts"] == len(alerts) and found["organisation_id"] == org
    breadth = [a for a in alerts if a["rule"] == Rule.VOLUME_BREADTH]
    # The most people it read in one hour before: four (a read every 17 minutes).
    assert breadth[0]["counts"]["baseline"] == 4
    assert breadth[-1]["window_start"] == T.isoformat().replace("+00:00", "Z")
    assert set(breadth[0]["data_categories"]) == {"email_address", "full_name"}


async def test_a_restart_keeps_the_baselines_and_raises_nothing_twice(
    schema_factory: Callable[[str], str],
) -> None:
    schema, org = schema_factory("detection"), unique("ph-exfil")
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    usual = history(org, T)
    try:
        async with running(schema) as http:
            d = Detection(http, schema, engine, prefix_of(schema))
            await d.publish(*usual)
            await d.counted(org, len(usual))
        async with running(schema) as http:  # restarted: the history is all it has
            d = Detection(http, schema, engine, prefix_of(schema))
            await d.publish(*exfiltration(org))
            await d.counted(org, len(usual) + 5000)
            first = await d.alerts()
        async with running(schema) as http:  # again, and the same people read once more
            d = Detection(http, schema, engine, prefix_of(schema))
            again = exfiltration(org, 200, start=T + timedelta(minutes=3))
            await d.publish(*again)
            await d.counted(org, len(usual) + 5200)
            await asyncio.sleep(1.0)
            after = await d.alerts()
            incidents = await d.incidents()
    finally:
        await engine.dispose()
    rate = [a for a in first if a["rule"] == Rule.VOLUME_RATE]
    # The baseline of that hour came from the stored history: 14 days of working hours.
    assert rate and rate[0]["counts"]["baseline"] is not None and rate[0]["counts"]["baseline"] > 0
    assert {a["rule"] for a in first} == {Rule.VOLUME_RATE, Rule.VOLUME_BREADTH}
    assert after == first  # nothing raised twice
    assert len(incidents) == 1


async def test_a_triaged_incident_is_closed_and_a_later_alert_opens_a_new_one(
    schema_factory: Callable[[str], str],
) -> None:
    schema, org = schema_factory("detection"), unique("ph-exfil")
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    try:
        async with running(schema) as http:
            d = Detection(http, schema, engine, prefix_of(schema))
            await d.publish(*exfiltration(org, 600))
            await d.counted(org, 600)
            (first,) = await d.incidents()
            await d.publish(
                events.IncidentTriaged.create(
                    producer="breach",
                    subject_id=str(first["incident_id"]),
                    payload=events.IncidentTriagedPayload(
                        incident_id=str(first["incident_id"]),
                        decision=events.TriageDecision.DISMISSED,
                        reason="A partner's yearly reconciliation, agreed in advance.",
                        decided_by="sec-lead@platform",
                        decided_at=datetime.now(UTC),
                    ),
                )
            )

            async def closed() -> bool:
                return all(i["closed_at"] for i in await d.incidents())

            await wait_until(closed, 30, "the incident to be closed")
            # Twice the people in the same hour: the breadth rule fires again.
            await d.publish(*exfiltration(org, 700, start=T + timedelta(minutes=5), tag="more"))
            await d.counted(org, 1300)

            async def reopened() -> bool:
                return len(await d.incidents()) == 2

            await wait_until(reopened, 30, "a new incident")
            newest, oldest = await d.incidents()
    finally:
        await engine.dispose()
    assert oldest["incident_id"] == first["incident_id"] and oldest["decision"] == "dismissed"
    assert newest["closed_at"] is None and newest["family"] == "volume"


async def test_each_rule_fires_through_the_service(schema_factory: Callable[[str], str]) -> None:
    schema = schema_factory("detection")
    prober, known, violator, granted = (unique(p) for p in ("ph-probe", "ph-known", "ph-v", "ph-g"))
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    grant_end = T - timedelta(days=1)
    grant = events.AccessGrantCreated.create(
        producer="consent",
        subject_id=granted,
        payload=events.AccessGrantPayload(
            grant_id="g-1",
            organisation=granted,
            data_categories=["email_address"],
            valid_from=T - timedelta(days=30),
            valid_until=grant_end,
            created_by="admin",
            created_at=T - timedelta(days=30),
        ),
    )
    violations = [
        events.ViolationDetected.create(
            producer="audit",
            subject_id=f"u-{i}",
            occurred_at=T + timedelta(seconds=i),
            payload=events.ViolationDetectedPayload(
                disclosure_event_id=f"e-{i}",
                log_index=1000 + i,
                organisation_id=violator,
                purpose="marketing",
                reason="no consent for the purpose",
            ),
        )
        for i in range(12)
    ]
    try:
        async with running(schema) as http:
            d = Detection(http, schema, engine, prefix_of(schema))
            await d.publish(grant, *history(known, T, days=10, per_day=5))
            await d.counted(known, 50)

            async def grant_kept() -> bool:
                async with engine.connect() as conn:
                    rows = await conn.execute(text("SELECT count(*) FROM grants"))
                    return bool(rows.scalar_one())

            await wait_until(grant_kept, 30, "the grant to be kept")
            await d.publish(
                *(
                    read(prober, f"p-{i}", T + timedelta(seconds=i), decision=Decision.DENY)
                    for i in range(60)
                ),
                read(known, "k-1", T, channel="bulk_export", producer="laptop-7"),
                read(known, "k-2", T, purpose="marketing"),
                read(granted, "g-1", T, fields=("email_address", "phone_number"), grant_id="g-1"),
                *violations,
            )

            async def all_fired() -> bool:
                return len({a["rule"] for a in await d.alerts()}) >= 7

            await wait_until(all_fired, 30, "every rule to fire")
            alerts = await d.alerts()
    finally:
        await engine.dispose()
    by_rule = {a["rule"]: a for a in alerts}
    assert set(by_rule) == {
        Rule.REFUSAL_BURST,
        Rule.NEW_CHANNEL,
        Rule.NEW_PRODUCER,
        Rule.NEW_PURPOSE,
        Rule.CATEGORY_OUTSIDE_GRANT,
        Rule.READ_AFTER_GRANT_END,
        Rule.CONSENT_VIOLATIONS,
    }
    assert by_rule[Rule.REFUSAL_BURST]["counts"]["refusals"] >= 50
    assert by_rule[Rule.CATEGORY_OUTSIDE_GRANT]["data_categories"] == ["phone_number"]
    violated = by_rule[Rule.CONSENT_VIOLATIONS]
    assert violated["audit_seqs"] == sorted(violated["audit_seqs"])  # in log order
    assert set(violated["audit_seqs"]) <= set(range(1000, 1012))
    assert len(violated["audit_seqs"]) == violated["audit_seqs_total"] >= 10
    assert by_rule[Rule.NEW_PRODUCER]["producer"] == "laptop-7"


async def test_an_unreadable_disclosure_is_dead_lettered_with_the_reason(
    schema_factory: Callable[[str], str],
) -> None:
    schema = schema_factory("detection")
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    topic = prefix_of(schema) + events.DATA_ACCESSED
    try:
        async with running(schema) as http:
            producer = create_producer(KAFKA)
            await producer.start()
            try:
                await producer.send_and_wait(topic, b'{"event_type": "data.accessed"}', key=b"x")
            finally:
                await producer.stop()
            dead = await read_topic(events.dlq_topic(topic), until=lambda r: len(r) >= 1)
            response = await http.get("/incidents", headers=AUDITOR)
    finally:
        await engine.dispose()
    assert b"Field required" in dict(dead[0].headers)["dlq-reason"]
    assert response.status_code == 200 and response.json()["incidents"] == []
