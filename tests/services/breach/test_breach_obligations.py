"""Obligations under the regimes on the real stack: derived as scopes resolve and as the
assessment is recorded, with their anchors and deadlines; each obligation's warnings and
missed deadline fired once on the stored clock, across a restart; each person's notice
carrying the strictest deadline of the regimes covering them; each regulator's record
holding what its row requires."""

from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.breach import regimes
from shared import events
from shared.clock import StoredClock
from tests.services.breach.conftest import (
    AUDITOR,
    SECURITY,
    T0,
    Service,
    outcome,
    running,
    user_ids,
)
from tests.support import wait_until

pytestmark = pytest.mark.integration

ISSUES_BREACH = {"SG": 600, "MY": 40, "PH": 30, "ID": 20, "TH": 10, "VN": 5, "LA": 3}
"""The issue's breach: people by country of residence."""


@pytest.fixture
async def service(schema: str, engine: AsyncEngine) -> AsyncIterator[Service]:
    """The breach service with no establishment of its own: each regime covers its
    residents only (the page size puts the issue's 708 people in one page)."""
    async with running(schema, resolve_page_size=1000) as http:
        clock = StoredClock(engine)
        await clock.freeze(T0)
        yield Service(http=http, schema=schema, engine=engine, clock=clock)


async def residents(engine: AsyncEngine, by_country: dict[str, int], tag: str) -> list[str]:
    """Subjects the service knows, ``n`` of each country; their ids, in the same order."""
    ids: list[str] = []
    countries: list[str] = []
    for country, n in by_country.items():
        made = user_ids(f"{tag}-{country.lower()}", n)
        ids += made
        countries += [country] * n
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO subjects (user_id, country, country_at, registered_at) "
                "SELECT u, c, :at, :at FROM unnest(CAST(:u AS text[]), CAST(:c AS text[])) "
                "AS x(u, c)"
            ),
            {"u": ids, "c": countries, "at": T0 - timedelta(days=30)},
        )
    return ids


async def owed(service: Service, breach_id: str) -> dict[str, Any]:
    response = await service.http.get(f"/breaches/{breach_id}/obligations", headers=AUDITOR)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_key(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["regime"], o["recipient"]): o for o in body["obligations"]}


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


STARTED, DETECTED = T0 - timedelta(days=3), T0 - timedelta(hours=1)


async def test_the_issues_breach_gets_exactly_its_obligations_with_their_anchors_and_deadlines(
    service: Service,
) -> None:
    people = await residents(service.engine, ISSUES_BREACH, "issue")
    breach = await service.declare(scope=[{"kind": "users", "user_ids": people}])
    breach_id = breach["breach_id"]
    await service.resolved(breach_id)

    body = await owed(service, breach_id)
    got = {
        key: (o["requirement"], o["state"], at(o["anchor_at"]), at(o["deadline_at"]))
        for key, o in by_key(body).items()
    }
    h72 = timedelta(hours=72)
    assert got == {
        # Singapore: 600 >= 500, its clock waits for the assessment.
        ("sg", "regulator"): ("required", "pending", None, None),
        ("sg", "people"): ("undetermined", "pending", None, None),
        ("th", "regulator"): ("required", "pending", T0, T0 + h72),
        ("th", "people"): ("undetermined", "pending", T0, None),
        # No sensitive data: the Philippines asks nothing (its clock still shown).
        ("ph", "regulator"): ("not_required", "not_required", T0, T0 + h72),
        ("ph", "people"): ("not_required", "not_required", T0, T0 + h72),
        # Indonesia: anchor not verified, counted from the earliest time (the start).
        ("id", "regulator"): ("required", "pending", STARTED, STARTED + h72),
        ("id", "people"): ("required", "pending", STARTED, STARTED + h72),
        # Malaysia from occurrence; 40 < 1,001 and no assessment yet.
        ("my", "regulator"): ("undetermined", "pending", STARTED, STARTED + h72),
        ("my", "people"): ("undetermined", "pending", STARTED, None),
        ("vn", "regulator"): ("required", "pending", DETECTED, DETECTED + h72),
        ("vn", "people"): ("required", "pending", DETECTED, None),
    }
    obligations = by_key(body)
    assert obligations[("sg", "regulator")]["people"] == 600
    assert at(obligations[("sg", "regulator")]["assessment_due_at"]) == DETECTED + timedelta(
        days=30
    )
    assert at(obligations[("th", "regulator")]["extended_until"]) == T0 + timedelta(days=15)
    assert at(obligations[("my", "regulator")]["phases_until"]) == STARTED + timedelta(days=30)
    assert obligations[("vn", "regulator")]["form"] == "Mẫu số 08 (Decree 356/2025)"
    # Laos: covered, no duty, no obligation.
    assert [(w["regime"], w["people"]) for w in body["without_duty"]] == [("la", 3)]
    assert body["people_by_country"] == ISSUES_BREACH
    for o in body["obligations"]:
        assert f"row '{o['regime']}'" in o["disclaimer"]
        assert "not legal advice" in o["disclaimer"]

    # One breach.obligation_required for each that is required, and only those.
    required = [
        (e["payload"]["regime"], e["payload"]["recipient"])
        for e in await service.staged(events.BREACH_OBLIGATION_REQUIRED)
    ]
    assert sorted(required) == sorted(k for k, v in got.items() if v[0] == "required")

    # Each person's notice: the strictest fixed deadline of the regimes covering them, at
    # most the platform's 72 hours from awareness; one notice each.
    notices = await service.staged(events.BREACH_NOTIFICATION_REQUESTED)
    assert len(notices) == len(people) == len({n["payload"]["user_id"] for n in notices})
    country_of = {u: u.split("-")[1].split("_")[0].upper() for u in people}  # issue-id_…
    deadlines = {
        (country_of[n["payload"]["user_id"]], at(n["payload"]["deadline_at"])) for n in notices
    }
    expected = {(c, T0 + h72) for c in ISSUES_BREACH if c != "ID"} | {("ID", STARTED + h72)}
    assert deadlines == expected
    # The most urgent first in the outbox.
    assert country_of[notices[0]["payload"]["user_id"]] == "ID"

    # The records of the regulators: every item each row requires, filled.
    loaded = regimes.load()
    for regime in ("sg", "th", "ph", "id", "my", "vn"):
        response = await service.http.get(
            f"/breaches/{breach_id}/records/{regime}", headers=AUDITOR
        )
        assert response.status_code == 200, response.text
        record = response.json()
        rule = loaded[regime].to_regulator
        assert rule is not None
        verified = not loaded[regime].is_unverified("to_regulator.content")
        want = [c.value for c in rule.content] if verified else list(regimes.ContentItem)
        assert record["required_items"] == want
        assert set(record["content"]) == set(want)
        assert record["missing"] == [], (regime, record["missing"])
        assert record["disclaimer"] == loaded[regime].disclaimer
        assert record["content_verified"] is verified
        page = await service.http.get(
            f"/breaches/{breach_id}/records/{regime}.html", headers=AUDITOR
        )
        assert page.status_code == 200
        assert all(f'data-item="{item}"' in page.text for item in want)
        assert str(escape(loaded[regime].disclaimer)) in page.text
    assert (await service.http.get(f"/breaches/{breach_id}/records/my", headers=AUDITOR)).json()[
        "phasing"
    ]["allowed"]
    pdf = await service.http.get(f"/breaches/{breach_id}/records/sg.pdf", headers=AUDITOR)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    laos = await service.http.get(f"/breaches/{breach_id}/records/la", headers=AUDITOR)
    assert laos.status_code == 404
    assert laos.json()["detail"]["field"] == "path.regime"
    unknown = await service.http.get(f"/breaches/{breach_id}/records/xx", headers=AUDITOR)
    assert unknown.status_code == 404


async def test_singapores_obligation_becomes_required_with_the_500th_person(
    service: Service,
) -> None:
    first = await residents(service.engine, {"SG": 499}, "sg499")
    breach = await service.declare(scope=[{"kind": "users", "user_ids": first}])
    breach_id = breach["breach_id"]
    await service.resolved(breach_id)
    sg = by_key(await owed(service, breach_id))[("sg", "regulator")]
    assert (sg["requirement"], sg["people"]) == ("undetermined", 499)
    assert await service.staged(events.BREACH_OBLIGATION_REQUIRED) == []

    last = await residents(service.engine, {"SG": 1}, "sg500")
    response = await service.http.post(
        f"/breaches/{breach_id}/scopes", json={"kind": "users", "user_ids": last}, headers=SECURITY
    )
    assert response.status_code == 201, response.text
    await service.resolved(breach_id)
    sg = by_key(await owed(service, breach_id))[("sg", "regulator")]
    assert (sg["requirement"], sg["people"]) == ("required", 500)
    assert sg["reason"] == "500 people covered, at least 500"
    staged = await service.staged(events.BREACH_OBLIGATION_REQUIRED)
    assert [(e["payload"]["regime"], e["payload"]["recipient"]) for e in staged] == [
        ("sg", "regulator")
    ]
    assert staged[0]["payload"]["people"] == 500
    assert "not legal advice" in staged[0]["payload"]["disclaimer"]

    # The assessment starts Singapore's clock: 72 hours from its conclusion.
    concluded = T0
    response = await service.http.post(
        f"/breaches/{breach_id}/assessments",
        json={
            "concluded_at": concluded.isoformat(),
            "findings": ["significant_harm"],
            "text": "Names and emails of 500 people; phishing likely.",
        },
        headers=SECURITY,
    )
    assert response.status_code == 201, response.text
    obligations = by_key(response.json())
    assert at(obligations[("sg", "regulator")]["anchor_at"]) == concluded
    assert at(obligations[("sg", "regulator")]["deadline_at"]) == concluded + timedelta(hours=72)
    assert obligations[("sg", "people")]["requirement"] == "required"
    assert [a["assessed_by"] for a in response.json()["assessments"]] == ["sec-lead@platform"]

    # Telling the PDPC late needs no reasons under Singapore's row; it is recorded late.
    await service.clock.freeze(T0 + timedelta(hours=80))
    told = await service.http.post(
        f"/breaches/{breach_id}/obligations/sg/regulator",
        json={"notified_at": (T0 + timedelta(hours=79)).isoformat(), "reference": "PDPC-1"},
        headers=SECURITY,
    )
    assert told.status_code == 201, told.text
    sg = by_key(told.json())[("sg", "regulator")]
    assert (sg["state"], sg["evidence"]["reference"]) == ("late", "PDPC-1")
    again = await service.http.post(
        f"/breaches/{breach_id}/obligations/sg/regulator",
        json={"notified_at": (T0 + timedelta(hours=79)).isoformat()},
        headers=SECURITY,
    )
    assert again.status_code == 409


async def test_a_late_notice_to_a_regulator_that_asks_for_reasons_is_refused_without_them(
    service: Service,
) -> None:
    people = await residents(service.engine, {"TH": 2}, "th-late")
    breach = await service.declare(scope=[{"kind": "users", "user_ids": people}])
    breach_id = breach["breach_id"]
    await service.resolved(breach_id)
    await service.clock.freeze(T0 + timedelta(hours=100))
    url = f"/breaches/{breach_id}/obligations/th/regulator"
    late = {"notified_at": (T0 + timedelta(hours=90)).isoformat()}
    refused = await service.http.post(url, json=late, headers=SECURITY)
    assert refused.status_code == 422
    assert refused.json()["detail"]["field"] == "delay_reasons"
    future = {"notified_at": (T0 + timedelta(hours=101)).isoformat()}
    assert (await service.http.post(url, json=future, headers=SECURITY)).status_code == 422
    missing = await service.http.post(
        f"/breaches/{breach_id}/obligations/sg/regulator", json=late, headers=SECURITY
    )
    assert missing.status_code == 404
    late["delay_reasons"] = "The scope took four days to establish from the logs."
    told = await service.http.post(url, json=late, headers=SECURITY)
    assert told.status_code == 201, told.text
    th = by_key(told.json())[("th", "regulator")]
    assert (th["state"], th["delay_reasons"]) == ("late", late["delay_reasons"])
    bad = await service.http.post(
        f"/breaches/{breach_id}/assessments",
        json={"concluded_at": (T0 - timedelta(days=9)).isoformat(), "findings": [], "text": "x"},
        headers=SECURITY,
    )
    assert bad.status_code == 422
    assert bad.json()["detail"]["field"] == "concluded_at"


async def test_a_person_covered_by_two_regimes_gets_one_notice_by_the_earlier_deadline(
    schema: str, engine: AsyncEngine
) -> None:
    # The controller is established in Indonesia: its law covers everyone affected.
    async with running(schema, establishment=["ID"]) as http:
        clock = StoredClock(engine)
        await clock.freeze(T0)
        service = Service(http=http, schema=schema, engine=engine, clock=clock)
        started = T0 - timedelta(hours=2)
        breach = await service.declare(started_at=started.isoformat())
        breach_id = breach["breach_id"]
        # Sensitive data and a real risk of serious harm: the Philippines' 72 hours bind.
        response = await http.post(
            f"/breaches/{breach_id}/assessments",
            json={
                "concluded_at": T0.isoformat(),
                "findings": ["serious_harm"],
                "sensitive": True,
                "text": "Identity documents exposed.",
            },
            headers=SECURITY,
        )
        assert response.status_code == 201, response.text
        people = await residents(engine, {"PH": 3}, "two")
        response = await http.post(
            f"/breaches/{breach_id}/scopes",
            json={"kind": "users", "user_ids": people},
            headers=SECURITY,
        )
        assert response.status_code == 201, response.text
        await service.resolved(breach_id)
        obligations = by_key(await owed(service, breach_id))
        ph, indonesia = obligations[("ph", "people")], obligations[("id", "people")]
        assert (ph["requirement"], at(ph["deadline_at"])) == ("required", T0 + timedelta(hours=72))
        assert (indonesia["requirement"], indonesia["people"]) == ("required", 3)
        assert at(indonesia["deadline_at"]) == started + timedelta(hours=72)

        notices = await service.staged(events.BREACH_NOTIFICATION_REQUESTED)
        assert Counter(n["payload"]["user_id"] for n in notices) == Counter(people)
        assert {at(n["payload"]["deadline_at"]) for n in notices} == {started + timedelta(hours=72)}

        # Sent again after the mail server gave up: the same, earlier, deadline.
        await service.publish(
            outcome(
                breach_id,
                people[0],
                at=T0 + timedelta(hours=1),
                failed=True,
                reason="retries_exhausted",
            )
        )

        async def failed() -> bool:
            return (await service.breach(breach_id))["counts"]["failed"] == 1

        await wait_until(failed, 30, "the failure to count")
        resent = await http.post(f"/breaches/{breach_id}/resend", headers=SECURITY)
        assert resent.status_code == 200, resent.text
        assert resent.json()["requested"] == 1
        again = [
            n
            for n in await service.staged(events.BREACH_NOTIFICATION_REQUESTED)
            if n["payload"]["resend"] == 1
        ]
        assert [(n["payload"]["user_id"], at(n["payload"]["deadline_at"])) for n in again] == [
            (people[0], started + timedelta(hours=72))
        ]


def fired_of(staged: list[dict[str, Any]], breach_id: str) -> list[tuple[str, str, str, Any]]:
    return [
        (
            e["event_type"],
            e["payload"]["regime"],
            e["payload"]["recipient"],
            e["payload"]["point_at"],
        )
        for e in staged
        if e["payload"]["breach_id"] == breach_id
    ]


async def obligation_events(service: Service, breach_id: str) -> list[tuple[str, str, str, Any]]:
    out = []
    for topic in (events.BREACH_OBLIGATION_WARNING, events.BREACH_OBLIGATION_MISSED):
        out += fired_of(await service.staged(topic), breach_id)
    return out


WARNING, MISSED = "breach.obligation_warning", "breach.obligation_missed"


async def test_each_obligations_warnings_and_miss_fire_once_across_a_restart(
    schema: str, engine: AsyncEngine
) -> None:
    started = T0 - timedelta(hours=2)
    clock = StoredClock(engine)
    async with running(schema) as http:
        await clock.freeze(T0)
        service = Service(http=http, schema=schema, engine=engine, clock=clock)
        people = await residents(engine, {"ID": 1, "VN": 1}, "clock")
        breach = await service.declare(
            started_at=started.isoformat(), scope=[{"kind": "users", "user_ids": people}]
        )
        breach_id = breach["breach_id"]
        await service.resolved(breach_id)
        await http.rounds("clock", 3)
        assert await obligation_events(service, breach_id) == []

        # Indonesia's clock runs from the start (T0 - 2h): its 24-hour point is T0 + 22h.
        await clock.freeze(T0 + timedelta(hours=22))

        async def count_is(n: int) -> bool:
            return len(await obligation_events(service, breach_id)) >= n

        await wait_until(lambda: count_is(2), 30, "Indonesia's first warnings")
        await http.rounds("clock", 3)
        first = sorted(await obligation_events(service, breach_id))
        point = (started + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
        assert [(k, r, p) for k, r, p, _ in first] == [
            (WARNING, "id", "people"),
            (WARNING, "id", "regulator"),
        ]
        assert {at(x) for *_, x in first} == {at(point)}

    # Down while every other point passes: each fires once when the service is back.
    await clock.freeze(T0 + timedelta(hours=80))
    async with running(schema) as http:
        service = Service(http=http, schema=schema, engine=engine, clock=clock)
        # Indonesia: two more warnings and the miss, each to regulator and people (6);
        # Vietnam's regulator (from detection, T0 - 1h): three warnings and the miss (4).
        await wait_until(lambda: count_is(12), 30, "every point of every obligation")
        await http.rounds("clock", 3)
        fired = await obligation_events(service, breach_id)
    assert len(fired) == len(set(fired)) == 12
    assert Counter((k, r, p) for k, r, p, _ in fired) == {
        (WARNING, "id", "regulator"): 3,
        (WARNING, "id", "people"): 3,
        (MISSED, "id", "regulator"): 1,
        (MISSED, "id", "people"): 1,
        (WARNING, "vn", "regulator"): 3,
        (MISSED, "vn", "regulator"): 1,
    }
