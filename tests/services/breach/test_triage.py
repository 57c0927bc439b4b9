"""Triage of detected incidents in the breach service, on the real broker and database:
alerts merge into one incident (a redelivered alert changes nothing), the security team
dismisses one with a reason that is kept, an untriaged one is escalated once on the
clock, an unreadable alert is dead-lettered; and, with detection and the audit service
in the loop, declaring from an injected exfiltration scopes exactly the people read."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.audit.config import AuditSettings
from services.audit.main import build_app as build_audit
from shared import events
from shared.auth import Role
from shared.clock import StoredClock
from shared.db import create_engine
from shared.events import Rule
from shared.producers import create_producer
from tests.services.breach.conftest import (
    AUDITOR,
    SECURITY,
    T0,
    Service,
    auth,
    prefix_of,
    running,
)
from tests.services.detection.conftest import Detection, history, read
from tests.services.detection.conftest import running as detecting
from tests.services.registry.conftest import serving
from tests.support import DATABASE_URL, KAFKA, read_topic, unique, wait_until

pytestmark = pytest.mark.integration

ACCOUNT = {
    "title": "Bulk read of member contacts by a partner's account",
    "what_happened": "A partner's API token read five thousand members' contacts in two minutes.",
    "kinds": ["confidentiality"],
    "likely_consequences": "Phishing emails that quote your name.",
    "measures_taken": "The token was revoked and the partner's access suspended.",
    "what_you_can_do": "Be wary of emails asking for your password; we never ask.",
    "contact_point": "Data Protection Officer, dpo@example.org",
}


def alert(incident_id: str, rule: Rule, *, at: datetime, org: str = "ph-x") -> events.AlertRaised:
    return events.AlertRaised.create(
        producer="detection",
        subject_id=incident_id,
        payload=events.AlertRaisedPayload(
            alert_id=str(uuid4()),
            incident_id=incident_id,
            rule=rule,
            organisation_id=org,
            window_start=at - timedelta(minutes=2),
            window_end=at,
            data_categories=["email_address"],
            counts=events.AlertCounts(reads=900, subjects=900, baseline=4.0, threshold=500),
            summary=f"{org} read 900 distinct people.",
            detected_at=at,
        ),
    )


async def incidents(http: Any, **params: Any) -> list[dict[str, Any]]:
    response = await http.get("/incidents", params=params, headers=AUDITOR)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["incidents"]
    return found


async def test_alerts_merge_into_one_incident_and_a_redelivery_changes_nothing(
    service: Service,
) -> None:
    incident = str(uuid4())
    first = alert(incident, Rule.VOLUME_BREADTH, at=T0 - timedelta(minutes=5))
    second = alert(incident, Rule.VOLUME_RATE, at=T0 - timedelta(minutes=4))
    await service.publish(first, second, first)

    async def merged() -> bool:
        found = await incidents(service.http)
        return len(found) == 1 and found[0]["alerts"] == 2

    await wait_until(merged, 30, "both alerts in one incident")
    response = await service.http.get(f"/incidents/{incident}", headers=SECURITY)
    body = response.json()
    assert body["status"] == "open" and body["rules"] == ["volume_breadth", "volume_rate"]
    assert [a["rule"] for a in body["evidence"]] == ["volume_breadth", "volume_rate"]
    assert body["first_detected_at"] == first.payload.detected_at.isoformat().replace("+00:00", "Z")
    other = await service.http.get("/incidents", headers=auth(Role.MEMBER_ORG, org_id="ph-x"))
    assert other.status_code == 403


async def test_dismissing_keeps_the_reason_and_stages_the_decision_for_detection(
    service: Service,
) -> None:
    incident = str(uuid4())
    await service.publish(alert(incident, Rule.REFUSAL_BURST, at=T0 - timedelta(minutes=1)))

    async def listed() -> bool:
        return len(await incidents(service.http)) == 1

    await wait_until(listed, 30, "the incident")
    path = f"/incidents/{incident}/dismiss"
    missing = await service.http.post(path, json={}, headers=SECURITY)
    blank = await service.http.post(path, json={"reason": "  "}, headers=SECURITY)
    auditor = await service.http.post(path, json={"reason": "x"}, headers=AUDITOR)
    reason = "A penetration test the partner announced on the 2nd; its report is filed."
    done = await service.http.post(path, json={"reason": reason}, headers=SECURITY)
    again = await service.http.post(path, json={"reason": reason}, headers=SECURITY)
    declared = await service.http.post(
        f"/incidents/{incident}/declare", json=ACCOUNT, headers=SECURITY
    )
    unknown = await service.http.post(
        f"/incidents/{uuid4()}/dismiss", json={"reason": reason}, headers=SECURITY
    )
    triaged = await service.staged(events.BREACH_INCIDENT_TRIAGED)
    assert missing.status_code == 422 and missing.json()["detail"]["field"] == "reason"
    assert blank.status_code == 422 and auditor.status_code == 403
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["reason"], body["decided_by"]) == (
        "dismissed",
        reason,
        "sec-lead@platform",
    )
    assert body["decided_at"] == T0.isoformat().replace("+00:00", "Z")
    assert again.status_code == 409 and declared.status_code == 409
    assert unknown.status_code == 404
    assert [t["payload"]["decision"] for t in triaged] == ["dismissed"]
    assert triaged[0]["payload"]["reason"] == reason


async def test_an_untriaged_incident_escalates_once_on_the_clock(schema: str, engine: Any) -> None:
    async with running(schema, triage_escalate_after="PT1H", triage_tick_seconds=0.2) as http:
        clock = StoredClock(engine)
        await clock.freeze(T0)
        service = Service(http=http, schema=schema, engine=engine, clock=clock)
        incident = str(uuid4())
        await service.publish(alert(incident, Rule.NEW_PRODUCER, at=T0 - timedelta(minutes=1)))

        async def listed() -> bool:
            return len(await incidents(http)) == 1

        await wait_until(listed, 30, "the incident")
        await http.rounds("triage", 2)
        before = await service.staged(events.BREACH_INCIDENT_ESCALATED)
        await clock.advance(timedelta(hours=1, seconds=1))
        await http.rounds("triage", 3)
        escalated = await service.staged(events.BREACH_INCIDENT_ESCALATED)
        (shown,) = await incidents(http, status="open")
    assert before == []
    assert [e["payload"]["incident_id"] for e in escalated] == [incident]
    assert escalated[0]["payload"]["untriaged_for_seconds"] >= 3600
    assert shown["escalated_at"] is not None


async def test_an_unreadable_alert_is_dead_lettered_with_the_reason(service: Service) -> None:
    topic = prefix_of(service.schema) + events.SECURITY_ALERT_RAISED
    producer = create_producer(KAFKA)
    await producer.start()
    try:
        bad = alert(str(uuid4()), Rule.VOLUME_RATE, at=T0).model_dump(mode="json")
        bad["payload"]["rule"] = "guessing"
        await producer.send_and_wait(topic, json.dumps(bad).encode(), key=b"x")
    finally:
        await producer.stop()
    dead = await read_topic(events.dlq_topic(topic), until=lambda r: len(r) >= 1)
    assert b"payload.rule" in dict(dead[0].headers)["dlq-reason"]
    assert await incidents(service.http) == []


async def test_declaring_from_a_detected_exfiltration_scopes_exactly_the_people_read(
    schema_factory: Callable[[str], str],
) -> None:
    """Detection, the audit log and the breach service on one set of topics."""
    detection_schema, audit_schema, breach_schema = (
        schema_factory("detection"),
        schema_factory("audit"),
        schema_factory("breach"),
    )
    prefix = prefix_of(detection_schema)
    org = unique("ph-exfil")
    at = datetime.now(UTC).replace(minute=10, second=0, microsecond=0) - timedelta(hours=1)
    victims = [f"{org}-victim-{i:05d}" for i in range(5000)]
    usual = history(org, at)
    bystanders = [read(unique("th-other"), f"b-{i}", at + timedelta(seconds=i)) for i in range(20)]
    exfil = [read(org, v, at + timedelta(seconds=i * 120 / 5000)) for i, v in enumerate(victims)]
    audit = build_audit(
        AuditSettings(
            db_schema=audit_schema, tree_head_seconds=0.5, log_json=True, topic_prefix=prefix
        )
    )
    detection_engine = create_engine(DATABASE_URL, detection_schema, pool_size=2)
    try:
        async with (
            audit.router.lifespan_context(audit),
            serving(audit) as audit_url,
            detecting(detection_schema) as detection_http,
            running(
                breach_schema, audit_url=audit_url, topic_prefix=prefix, clock="system"
            ) as http,
        ):
            detection = Detection(detection_http, detection_schema, detection_engine, prefix)
            await detection.publish(*usual, *bystanders)
            await detection.counted(org, len(usual))
            await detection.publish(*exfil)

            async def raised() -> bool:
                return len(await incidents(http)) == 1

            await wait_until(raised, 30, "the incident in the breach service")
            await detection.counted(org, len(usual) + len(victims))
            (incident,) = await incidents(http)
            declared = await http.post(
                f"/incidents/{incident['incident_id']}/declare", json=ACCOUNT, headers=SECURITY
            )
            assert declared.status_code == 201, declared.text
            breach_id = declared.json()["breach"]["breach_id"]
            service = Service(http=http, schema=breach_schema, engine=None, clock=None)  # type: ignore[arg-type]
            breach = await service.resolved(breach_id, timeout=120)
            people = await service.people(breach_id)

            async def closed() -> bool:
                return all(i["decision"] == "declared" for i in await detection.incidents())

            await wait_until(closed, 30, "detection to close its incident")
            shown = (
                await http.get(f"/incidents/{incident['incident_id']}", headers=AUDITOR)
            ).json()
    finally:
        await detection_engine.dispose()
    assert set(people) == set(victims)
    assert breach["detected_at"] == shown["first_detected_at"]
    assert breach["aware_at"] == shown["decided_at"]
    assert breach["detected_at"] <= breach["aware_at"]
    assert shown["status"] == "declared" and shown["breach_id"] == breach_id
    assert set(breach["data_categories"]) == {"email_address", "full_name"}
