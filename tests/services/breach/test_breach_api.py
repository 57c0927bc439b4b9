"""Declaring a breach over HTTP: validation, idempotency, roles."""

import asyncio
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from shared import events
from shared.auth import Role
from tests.services.breach.conftest import (
    AUDITOR,
    SECURITY,
    T0,
    Service,
    auth,
    declaration,
)

pytestmark = pytest.mark.integration


async def test_declaring_a_breach_starts_its_clock_from_awareness(service: Service) -> None:
    breach = await service.declare()

    assert breach["status"] == "open"
    assert breach["reference"].startswith(f"BR-{T0.year}-")
    assert breach["aware_at"].startswith(T0.strftime("%Y-%m-%dT%H:%M:%S"))
    assert breach["seconds_left"] == 72 * 3600
    assert breach["counts"]["affected"] == 0
    detected = await service.staged(events.BREACH_DETECTED)
    assert [d["payload"]["breach_id"] for d in detected] == [breach["breach_id"]]
    assert detected[0]["payload"]["deadline_at"].startswith(
        (T0 + timedelta(hours=72)).strftime("%Y-%m-%dT%H:%M:%S")
    )


async def test_a_retried_declaration_returns_the_first_breach(service: Service) -> None:
    key = {"Idempotency-Key": f"declare-{uuid4()}"}
    body = declaration(scope=[{"kind": "users", "user_ids": ["u-1", "u-2"]}])

    first = await service.http.post("/breaches", json=body, headers={**SECURITY, **key})
    again = await service.http.post("/breaches", json=body, headers={**SECURITY, **key})
    other = await service.http.post(
        "/breaches", json={**body, "title": "Something else"}, headers={**SECURITY, **key}
    )

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["breach_id"] == first.json()["breach_id"]
    assert other.status_code == 409
    assert other.json()["detail"]["error"] == "IdempotencyKeyReused"
    assert other.json()["detail"]["breach_id"] == first.json()["breach_id"]
    assert len(await service.staged(events.BREACH_DETECTED)) == 1
    listed = await service.http.get("/breaches", headers=AUDITOR)
    assert [b["breach_id"] for b in listed.json()["breaches"]] == [first.json()["breach_id"]]


async def test_declarations_racing_with_one_key_make_one_breach(service: Service) -> None:
    key = {"Idempotency-Key": f"race-{uuid4()}"}
    answers = await asyncio.gather(
        *(
            service.http.post("/breaches", json=declaration(), headers={**SECURITY, **key})
            for _ in range(6)
        )
    )

    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["breach_id"] for a in answers}) == 1
    assert len(await service.staged(events.BREACH_DETECTED)) == 1


@pytest.mark.parametrize("records", [2**31, 2**63 - 1])
async def test_approximate_records_beyond_32_bits_are_kept(service: Service, records: int) -> None:
    response = await service.http.post(
        "/breaches", json=declaration(approximate_records=records), headers=SECURITY
    )

    assert response.status_code == 201, response.text
    assert (await service.breach(response.json()["breach_id"]))["approximate_records"] == records


async def test_approximate_records_beyond_64_bits_are_refused_naming_the_field(
    service: Service,
) -> None:
    response = await service.http.post(
        "/breaches", json=declaration(approximate_records=2**63), headers=SECURITY
    )

    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] == "approximate_records"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"kinds": []}, "kinds"),
        ({"kinds": ["leak"]}, "kinds.0"),
        ({"detected_at": "2026-11-20T10:00:00"}, "detected_at"),
        ({"data_categories": ["Email Address"]}, "data_categories.0"),
        ({"what_happened": "a\x00b"}, "what_happened"),
        ({"contact_point": None}, "contact_point"),
        ({"approximate_records": -1}, "approximate_records"),
        ({"scope": [{"kind": "country", "country": "XX"}]}, "scope.0.country.country"),
        ({"scope": [{"kind": "users", "user_ids": []}]}, "scope.0.users.user_ids"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_an_invalid_declaration_is_refused_naming_the_field(
    service: Service, change: dict[str, Any], field: str
) -> None:
    response = await service.http.post("/breaches", json=declaration(**change), headers=SECURITY)

    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] == field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"aware_at": (T0 + timedelta(minutes=5)).isoformat()}, "aware_at"),
        ({"detected_at": (T0 + timedelta(minutes=5)).isoformat()}, "detected_at"),
        ({"ended_at": (T0 - timedelta(days=4)).isoformat()}, "ended_at"),
        ({"aware_at": (T0 - timedelta(hours=3)).isoformat()}, "aware_at"),
    ],
)
async def test_times_out_of_order_or_in_the_future_are_refused(
    service: Service, change: dict[str, Any], field: str
) -> None:
    response = await service.http.post("/breaches", json=declaration(**change), headers=SECURITY)

    assert response.status_code == 422, response.text
    assert response.json()["detail"] == {
        "error": "InvalidDeclaration",
        "message": response.json()["detail"]["message"],
        "field": field,
    }


async def test_an_organisation_window_must_end_after_it_starts(service: Service) -> None:
    scope = {
        "kind": "organisation",
        "organisation": "ph-dti",
        "since": T0.isoformat(),
        "until": (T0 - timedelta(days=1)).isoformat(),
    }
    response = await service.http.post(
        "/breaches", json=declaration(scope=[scope]), headers=SECURITY
    )

    assert response.status_code == 422
    assert response.json()["detail"]["field"] == "scope.0.organisation"


async def test_unknown_breaches_are_404_and_bad_ids_422(service: Service) -> None:
    missing = await service.http.get(f"/breaches/{uuid4()}", headers=AUDITOR)
    bad = await service.http.get("/breaches/not-a-uuid", headers=AUDITOR)
    cursor = await service.http.get("/breaches", params={"after": "%%%"}, headers=AUDITOR)

    assert missing.status_code == 404
    assert missing.json()["detail"]["error"] == "BreachNotFound"
    assert bad.status_code == 422
    assert bad.json()["detail"]["field"] == "path.breach_id"
    assert cursor.status_code == 422
    assert cursor.json()["detail"]["field"] == "query.after"


ACTIONS = [
    ("POST", "/breaches", declaration()),
    ("POST", "/breaches/{id}/scopes", {"kind": "everyone"}),
    ("POST", "/breaches/{id}/announcement", {"text": "t", "where": "w", "published_at": "x"}),
    ("POST", "/breaches/{id}/regulator-decision", {"decision": "report"}),
    ("POST", "/breaches/{id}/close", None),
]
READS = [
    ("GET", "/breaches", None),
    ("GET", "/breaches/{id}", None),
    ("GET", "/breaches/{id}/scopes", None),
    ("GET", "/breaches/{id}/people", None),
    ("GET", "/breaches/{id}/people.csv", None),
    ("GET", "/breaches/{id}/unnotified", None),
    ("GET", "/breaches/{id}/timeline", None),
    ("GET", "/breaches/{id}/report", None),
    ("GET", "/breaches/{id}/report.html", None),
]
OTHERS = [
    auth(Role.PLATFORM),
    auth(Role.ADMIN),
    auth(Role.SUBJECT, user_id="u-1"),
    auth(Role.MEMBER_ORG, org_id="ph-dti"),
]


async def test_only_security_acts_and_only_security_and_auditors_read(service: Service) -> None:
    breach_id = (await service.declare())["breach_id"]

    async def call(method: str, path: str, body: Any, headers: dict[str, str]) -> int:
        response = await service.http.request(
            method, path.format(id=breach_id), json=body, headers=headers
        )
        return response.status_code

    for method, path, body in ACTIONS + READS:
        assert await call(method, path, body, {}) == 401, path
        for headers in OTHERS:
            assert await call(method, path, body, headers) == 403, (path, headers)
    for method, path, body in ACTIONS:
        assert await call(method, path, body, AUDITOR) == 403, path
    for method, path, body in READS:
        assert await call(method, path, body, AUDITOR) == 200, path
        assert await call(method, path, body, SECURITY) == 200, path
