"""Answers to recipient notices against the real broker and database: confirmations and
"kept under the person's own authorisation" recorded, an organisation confined to its
own requests, escalation once when the test clock passes the limit (across a restart),
the notifier's outcomes, the person's report, and bad input answered with a 4xx."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import events
from shared.auth import Role
from shared.clock import StoredClock
from shared.db import create_engine
from tests.services.audit.test_recipients_stack import (
    AUDITOR,
    RESPOND,
    SETTLE,
    T0,
    Audit,
    auth,
    disclosure,
    erased,
    names,
    org,
    outcome,
    prefix_of,
    running,
)
from tests.support import DATABASE_URL, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def schema(schema_factory: Callable[[str], str]) -> str:
    return schema_factory("audit_answers")


@pytest.fixture
async def engine(schema: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    yield engine
    await engine.dispose()


async def asked(audit: Audit, orgs: int = 2) -> tuple[str, list[str], dict[str, dict[str, Any]]]:
    """A person whose data ``orgs`` organisations read, erased and settled: the person,
    the organisations, and the requests staged for each."""
    (person,) = names("person", 1)
    slugs = names("org", orgs)
    now = datetime.now(UTC)
    read = [
        disclosure(person, slug, ["email_address", "full_name"], at=now - timedelta(minutes=i))
        for i, slug in enumerate(slugs, 1)
    ]
    await audit.publish(*read)
    await audit.stored(*read)
    erasure = erased(person)
    await audit.publish(erasure)
    await audit.recorded(erasure)
    await audit.clock.advance(SETTLE)
    await audit.swept(erasure)
    requests = await audit.requests(person)
    assert sorted(requests) == sorted(slugs)
    return person, slugs, requests


@pytest.fixture
async def audit(schema: str, engine: AsyncEngine) -> AsyncIterator[Audit]:
    async with running(schema) as http:
        clock = StoredClock(engine)
        await clock.freeze(T0)
        yield Audit(http=http, engine=engine, clock=clock, prefix=prefix_of(schema))


async def test_confirmations_and_keeping_under_own_authorisation_are_recorded(
    audit: Audit,
) -> None:
    person, (a, b), requests = await asked(audit)
    ra, rb = requests[a]["request_id"], requests[b]["request_id"]

    done = await audit.http.post(f"/recipient-requests/{ra}/confirm", headers=org(a))
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "confirmed" and done.json()["answered_by"] == f"dpo@{a}"
    kept = await audit.http.post(
        f"/recipient-requests/{rb}/keep",
        json={"reference": "  Membership contract M-2026-0142, clause 7 "},
        headers=org(b),
    )
    assert kept.status_code == 200, kept.text
    assert (kept.json()["state"], kept.json()["reference"]) == (
        "kept",
        "Membership contract M-2026-0142, clause 7",
    )
    assert datetime.fromisoformat(kept.json()["answered_at"]) == T0 + SETTLE

    again = await audit.http.post(f"/recipient-requests/{rb}/confirm", headers=org(b))
    assert again.status_code == 409, again.text
    assert again.json()["detail"]["error"] == "AlreadyAnswered"
    assert (await audit.request(rb))["state"] == "kept"  # the first answer stands

    listed = await audit.http.get(
        "/recipient-requests", params={"state": "confirmed"}, headers=AUDITOR
    )
    assert [r["request_id"] for r in listed.json()["items"] if r["user_id"] == person] == [ra]


async def test_an_organisation_cannot_see_or_answer_another_ones_requests(audit: Audit) -> None:
    _, (a, b), requests = await asked(audit)
    theirs = requests[b]["request_id"]
    for method, path, body in (
        ("GET", f"/recipient-requests/{theirs}", None),
        ("POST", f"/recipient-requests/{theirs}/confirm", None),
        ("POST", f"/recipient-requests/{theirs}/keep", {"reference": "ours now"}),
    ):
        response = await audit.http.request(method, path, json=body, headers=org(a))
        assert response.status_code == 404, (path, response.text)
        assert response.json()["detail"]["field"] == "request_id"
    mine = await audit.http.get("/recipient-requests", headers=org(a))
    assert [r["organisation"] for r in mine.json()["items"]] == [a]
    other = await audit.http.get("/recipient-requests", params={"organisation": b}, headers=org(a))
    assert other.status_code == 403 and other.json()["detail"]["field"] == "organisation"
    assert (await audit.request(theirs))["state"] == "outstanding"  # nobody answered for b
    for role in (Role.AUDITOR, Role.SECURITY):  # they read, they never answer
        response = await audit.http.post(
            f"/recipient-requests/{theirs}/confirm", headers=auth(role)
        )
        assert response.status_code == 403


async def test_an_unanswered_request_is_escalated_once_when_the_clock_passes_its_time(
    schema: str, engine: AsyncEngine
) -> None:
    clock = StoredClock(engine)
    async with running(schema) as http:
        await clock.freeze(T0)
        audit = Audit(http=http, engine=engine, clock=clock, prefix=prefix_of(schema))
        person, (a, b), requests = await asked(audit)
        answered = await http.post(
            f"/recipient-requests/{requests[a]['request_id']}/confirm", headers=org(a)
        )
        assert answered.status_code == 200
        await clock.advance(RESPOND - timedelta(seconds=1))
        await http.rounds("recipients", 3)  # ticks a second early: nothing escalated
        assert await audit.staged(events.RECIPIENT_REQUEST_ESCALATED, person) == []

        await clock.advance(timedelta(seconds=1))

        async def escalated() -> bool:
            return bool(await audit.staged(events.RECIPIENT_REQUEST_ESCALATED, person))

        await wait_until(escalated, 30, "the escalation")
        await http.rounds("recipients", 3)  # more ticks: still once
        overdue = await http.get(
            "/recipient-requests", params={"state": "overdue", "user_id": person}, headers=AUDITOR
        )
        assert [r["organisation"] for r in overdue.json()["items"]] == [b]
        assert overdue.json()["items"][0]["escalated_at"] is not None

    await clock.advance(timedelta(days=10))  # the service is down a while, then comes back
    async with running(schema) as http:
        audit = Audit(http=http, engine=engine, clock=clock, prefix=prefix_of(schema))
        await http.rounds("recipients", 3)  # the first catches up on the days it was down
        staged = await audit.staged(events.RECIPIENT_REQUEST_ESCALATED, person)
    assert len(staged) == 1  # the confirmed one is never escalated, the other once
    payload = staged[0]["payload"]
    assert payload["request_id"] == requests[b]["request_id"] and payload["organisation"] == b
    assert datetime.fromisoformat(payload["escalated_at"]) == T0 + SETTLE + RESPOND
    assert datetime.fromisoformat(payload["respond_by"]) == T0 + SETTLE + RESPOND


async def test_the_notifiers_outcomes_are_recorded_per_request(audit: Audit) -> None:
    person, (a, b), requests = await asked(audit)
    ra, rb = requests[a]["request_id"], requests[b]["request_id"]
    accepted = outcome(ra, a, at=T0 + SETTLE + timedelta(seconds=2))
    breach_kind = events.NotificationDelivered.create(  # another kind of notice: not ours
        producer="notifier",
        subject_id=a,
        payload=accepted.payload.model_copy(
            update={"kind": "breach_notice", "notice_id": f"breach:{uuid.uuid4()}:{person}"}
        ),
    )
    failed = outcome(rb, b, at=T0 + SETTLE + timedelta(seconds=3), failed=True)
    await audit.publish(breach_kind, accepted, accepted, failed)  # one delivered twice

    async def recorded() -> bool:
        sql = "SELECT count(*) FROM recipient_outcomes"
        return await audit.count(sql) == 2

    await wait_until(recorded, 30, "the outcomes")
    await asyncio.sleep(0.5)
    assert await audit.count("SELECT count(*) FROM recipient_outcomes") == 2
    one, other = await audit.request(ra), await audit.request(rb)
    assert (one["delivery"], one["delivery_reason"]) == ("delivered", None)
    assert (other["delivery"], other["delivery_reason"]) == ("failed", "no_contact")


async def test_the_persons_report_lists_who_was_told_and_their_answers(audit: Audit) -> None:
    person, (a, b), requests = await asked(audit)
    ra = requests[a]["request_id"]
    await audit.publish(outcome(ra, a, at=T0 + SETTLE + timedelta(seconds=2)))
    await audit.http.post(f"/recipient-requests/{ra}/confirm", headers=org(a))

    async def delivered() -> bool:
        return (await audit.request(ra))["delivery"] == "delivered"

    await wait_until(delivered, 30, "the delivery")
    me = auth(Role.SUBJECT, user_id=person)
    response = await audit.http.get(f"/subjects/{person}/report", headers=me)
    assert response.status_code == 200, response.text
    report = response.json()
    assert len(report["items"]) == 2  # the disclosures, as before
    notices = {n["organisation"]: n for n in report["recipient_notices"]}
    assert sorted(notices) == [a, b]
    assert notices[a]["state"] == "confirmed" and notices[a]["delivery"] == "delivered"
    assert datetime.fromisoformat(notices[a]["told_at"]) == T0 + SETTLE
    assert notices[a]["delivered_at"] is not None and notices[a]["answered_at"] is not None
    assert notices[b]["state"] == "outstanding" and notices[b]["delivery"] == "pending"
    assert notices[b]["data_categories"] == ["email_address", "full_name"]
    someone = auth(Role.SUBJECT, user_id="someone-else")
    assert (await audit.http.get(f"/subjects/{person}/report", headers=someone)).status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "field"),
    [
        ("GET", "/recipient-requests", {"state": "forgotten"}, None, "query.state"),
        ("GET", "/recipient-requests", {"action": "shred"}, None, "query.action"),
        ("GET", "/recipient-requests", {"cursor": str(2**63)}, None, "query.cursor"),
        ("GET", "/recipient-requests", {"limit": "0"}, None, "query.limit"),
        ("GET", "/recipient-requests", {"organisation": "a\x00b"}, None, "query.organisation"),
        ("GET", "/recipient-requests/not-a-uuid", {}, None, "path.request_id"),
        ("POST", "/recipient-requests/not-a-uuid/confirm", {}, None, "path.request_id"),
        ("POST", "/recipient-requests/{id}/keep", {}, {}, "reference"),
        ("POST", "/recipient-requests/{id}/keep", {}, {"reference": "   "}, "reference"),
        ("POST", "/recipient-requests/{id}/keep", {}, {"reference": "x" * 501}, "reference"),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field(
    api: httpx.AsyncClient,
    method: str,
    path: str,
    params: dict[str, Any],
    body: dict[str, Any] | None,
    field: str,
) -> None:
    headers = org("org-x") if method == "POST" else AUDITOR
    path = path.replace("{id}", "00000000-0000-4000-8000-000000000000")
    response = await api.request(method, path, params=params, json=body, headers=headers)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["error"] == "InvalidRequest"
    assert detail["field"] == field, detail
