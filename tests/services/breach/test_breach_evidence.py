"""The notifier's outcomes as evidence, the announcement, the regulator decision, closing,
and the record a regulator gets."""

import asyncio
import base64
import csv
import hashlib
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared import events
from tests.services.breach.conftest import (
    AUDITOR,
    SECURITY,
    T0,
    Service,
    outcome,
    prefix_of,
    user_ids,
)
from tests.support import read_topic, wait_until

pytestmark = pytest.mark.integration

H = timedelta(hours=1)


async def until_counts(service: Service, breach_id: str, **expected: int) -> dict[str, Any]:
    async def match() -> bool:
        counts = (await service.breach(breach_id))["counts"]
        return all(counts[k] == v for k, v in expected.items())

    await wait_until(match, 30, f"counts {expected}")
    return await service.breach(breach_id)


async def test_outcomes_update_the_counts_whatever_order_they_arrive_in(
    service: Service,
) -> None:
    told, missing, twice, bounced, late = user_ids("p", 5)
    waiting = user_ids("waiting", 1)[0]
    people = [told, missing, twice, bounced, late, waiting]
    breach_id = (await service.declare(scope=[{"kind": "users", "user_ids": people}]))["breach_id"]
    await service.resolved(breach_id)
    accepted = outcome(breach_id, told, at=T0 + H, attempts=2)

    await service.publish(
        accepted,
        accepted,  # redelivered: counted once
        outcome(breach_id, missing, at=T0 + H, failed=True, reason="no_contact", attempts=0),
        outcome(breach_id, twice, at=T0 + H, uncertain=True),
        outcome(breach_id, bounced, at=T0 + H),
        outcome(breach_id, late, at=T0 + 3 * H, failed=True, reason="bounced"),
    )
    # Later on: the bounce of an accepted notice, and an acceptance that arrives after the
    # bounce it preceded.
    await service.publish(
        outcome(breach_id, bounced, at=T0 + 2 * H, failed=True, reason="bounced"),
        outcome(breach_id, late, at=T0 + 2 * H),
    )

    async def kept() -> int:
        async with service.engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM outcomes"))).scalar_one())

    await wait_until(lambda: _equal(kept(), 7), 30, "every outcome to be applied")
    breach = await service.breach(breach_id)
    people_now = await service.people(breach_id)

    assert breach["counts"] == {
        "affected": 6,
        "requested": 1,
        "delivered": 1,
        "uncertain": 1,
        "failed": 3,
        "notified": 2,
        "unreachable": 3,
        "covered_by_announcement": 0,
        "pending": 4,
    }
    assert breach["announcement_required"] is True
    assert people_now[told]["state"] == "delivered" and people_now[told]["attempts"] == 2
    assert people_now[told]["smtp_reply"] == "2.0.0 Ok: queued as ABC123"
    assert people_now[twice]["state"] == "uncertain"
    assert people_now[missing]["reason"] == "no_contact"
    assert people_now[bounced]["state"] == "failed" and people_now[bounced]["reason"] == "bounced"
    assert people_now[bounced]["delivered_at"] is not None  # accepted first: kept as evidence
    assert people_now[late]["state"] == "failed"
    assert people_now[late]["delivered_at"] is not None
    await asyncio.sleep(0.5)
    assert await kept() == 7  # every outcome kept once (the redelivered one too), applied or not


async def _equal(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def test_closing_waits_for_everyone_to_be_covered_and_for_the_decision(
    service: Service,
) -> None:
    told, unreachable = user_ids("c", 2)
    breach_id = (await service.declare(scope=[{"kind": "users", "user_ids": [told, unreachable]}]))[
        "breach_id"
    ]
    await service.resolved(breach_id)

    async def close() -> Any:
        return await service.http.post(f"/breaches/{breach_id}/close", headers=SECURITY)

    refused = await close()
    assert refused.status_code == 409
    assert refused.json()["detail"]["missing"] == [
        "2 people have no outcome yet",
        "the regulator decision (report or not, with the reason) is not recorded",
    ]

    await service.publish(
        outcome(breach_id, told, at=T0 + H),
        outcome(breach_id, unreachable, at=T0 + H, failed=True, reason="erased"),
    )
    await until_counts(service, breach_id, delivered=1, failed=1)
    unnotified = await service.http.get(f"/breaches/{breach_id}/unnotified", headers=AUDITOR)
    assert [p["user_id"] for p in unnotified.json()["people"]] == [unreachable]
    refused = await close()
    assert refused.json()["detail"]["missing"][0] == (
        "1 people cannot be reached and no public announcement is recorded"
    )

    await service.clock.freeze(T0 + 80 * H)

    async def missed() -> bool:
        timeline = await service.http.get(f"/breaches/{breach_id}/timeline", headers=AUDITOR)
        return any(e["action"] == "deadline_missed" for e in timeline.json())

    await wait_until(missed, 30, "the missed deadline")
    announced = await service.http.post(
        f"/breaches/{breach_id}/announcement",
        json={
            "text": "Some of you could not be reached by email: here is what happened.",
            "where": "https://example.org/notices/breach",
            "published_at": (T0 + 79 * H).isoformat(),
        },
        headers=SECURITY,
    )
    assert announced.status_code == 201, announced.text
    assert announced.json()["counts"]["covered_by_announcement"] == 1
    assert announced.json()["counts"]["pending"] == 0
    people = await service.people(breach_id)
    assert people[unreachable]["state"] == "covered_by_announcement"
    unnotified = await service.http.get(f"/breaches/{breach_id}/unnotified", headers=AUDITOR)
    assert unnotified.json()["people"] == []

    decide = f"/breaches/{breach_id}/regulator-decision"
    no_reason = await service.http.post(decide, json={"decision": "not_report"}, headers=SECURITY)
    late = await service.http.post(
        decide,
        json={"decision": "report", "reported_at": (T0 + 75 * H).isoformat()},
        headers=SECURITY,
    )
    assert no_reason.status_code == 422 and no_reason.json()["detail"]["field"] == "reason"
    assert late.status_code == 422 and late.json()["detail"]["field"] == "delay_reasons"
    assert (await close()).json()["detail"]["missing"] == [
        "the regulator decision (report or not, with the reason) is not recorded"
    ]
    decided = await service.http.post(
        decide,
        json={
            "decision": "report",
            "authority": "National Privacy Commission",
            "reported_at": (T0 + 75 * H).isoformat(),
            "delay_reasons": "The scope was confirmed only after the bucket's logs came in.",
        },
        headers=SECURITY,
    )
    assert decided.status_code == 201, decided.text

    closed = await close()
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    again = await service.http.post(
        f"/breaches/{breach_id}/scopes", json={"kind": "everyone"}, headers=SECURITY
    )
    assert again.status_code == 409 and again.json()["detail"]["error"] == "BreachClosed"

    record = (await service.http.get(f"/breaches/{breach_id}/report", headers=AUDITOR)).json()
    assert record["complete"] is True and record["missing"] == []
    nature = record["nature"]
    assert nature["kinds"] == ["confidentiality"]
    assert nature["data_categories"] == ["email_address", "full_name"]
    assert nature["data_subjects_concerned"] == 2
    assert nature["records_concerned"] == 4 and nature["records_estimated"] is True
    assert nature["what_happened"].startswith("A CSV export")
    assert record["contact_point"].startswith("Data Protection Officer")
    assert record["likely_consequences"] and record["measures_taken_or_proposed"]
    authority = record["supervisory_authority"]
    assert authority["reported"] is True
    assert authority["reported_within_72_hours"] is False
    assert authority["delay_reasons"].startswith("The scope was confirmed")
    told_them = record["communication_to_data_subjects"]
    assert (told_them["delivered"], told_them["failed"], told_them["covered_by_announcement"]) == (
        1,
        1,
        1,
    )
    assert told_them["announcement"]["where"] == "https://example.org/notices/breach"
    assert [e["action"] for e in record["timeline"]] == [
        "declared",
        "scope_added",
        "scope_resolved",
        "deadline_warning",
        "deadline_warning",
        "deadline_warning",
        "deadline_missed",
        "announcement_recorded",
        "regulator_decision_recorded",
        "closed",
    ]

    page = await service.http.get(f"/breaches/{breach_id}/report.html", headers=AUDITOR)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for needed in (
        "Nature of the breach",
        "Contact point",
        "Likely consequences",
        "Measures taken or proposed",
        "after 72 hours",
        "Reasons for the delay",
        "Covered by the public announcement",
        "@media print",
    ):
        assert needed in page.text, needed
    # Its inline stylesheet (the page prints and is saved as one file) is the only inline
    # code its Content-Security-Policy admits, by hash; nothing from another origin.
    [style] = re.findall(r"<style>(.*?)</style>", page.text, flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = page.headers["content-security-policy"]
    assert f"style-src 'self' 'sha256-{digest}';" in policy
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    exported = await service.http.get(f"/breaches/{breach_id}/people.csv", headers=AUDITOR)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["user_id"]: r["state"] for r in rows} == {
        told: "delivered",
        unreachable: "covered_by_announcement",
    }


async def test_a_breach_not_reported_keeps_its_reason_and_the_timeline_refuses_changes(
    service: Service,
) -> None:
    breach_id = (await service.declare())["breach_id"]
    decided = await service.http.post(
        f"/breaches/{breach_id}/regulator-decision",
        json={"decision": "not_report", "reason": "The data were encrypted; the key is safe."},
        headers=SECURITY,
    )
    closed = await service.http.post(f"/breaches/{breach_id}/close", headers=SECURITY)
    record = (await service.http.get(f"/breaches/{breach_id}/report", headers=AUDITOR)).json()

    assert decided.status_code == 201 and closed.status_code == 200
    assert record["supervisory_authority"]["reported"] is False
    assert record["supervisory_authority"]["reason"].startswith("The data were encrypted")
    for statement in ("UPDATE timeline SET actor = 'x'", "DELETE FROM timeline"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with service.engine.begin() as conn:
                await conn.execute(text(statement))


async def test_an_outcome_naming_no_breach_notice_is_dead_lettered_and_the_batch_goes_on(
    service: Service,
) -> None:
    (person,) = user_ids("dlq", 1)
    breach_id = (await service.declare(scope=[{"kind": "users", "user_ids": [person]}]))[
        "breach_id"
    ]
    await service.resolved(breach_id)
    bad = outcome(breach_id, person, at=T0 + H)
    bad = bad.model_copy(
        update={"payload": bad.payload.model_copy(update={"notice_id": f"breach:x-{person}"})}
    )
    other_kind = outcome(breach_id, person, at=T0 + 2 * H, failed=True)
    other_kind = other_kind.model_copy(
        update={"payload": other_kind.payload.model_copy(update={"kind": "erasure_request"})}
    )

    await service.publish(bad, other_kind, outcome(breach_id, person, at=T0 + H))

    await until_counts(service, breach_id, delivered=1)
    records = await read_topic(
        events.dlq_topic(prefix_of(service.schema) + events.NOTIFICATION_DELIVERED),
        until=lambda rs: any(r.key == person.encode() for r in rs),
    )
    (dead,) = [r for r in records if r.key == person.encode()]
    assert b"names no breach notice" in dict(dead.headers)["dlq-reason"]
    await asyncio.sleep(0.5)
    assert (await service.breach(breach_id))["counts"]["failed"] == 0  # not a breach notice
