"""Boundary inputs get a 4xx naming the field, never a 5xx; every answer is documented."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.consent.domain import InvalidField, check_window
from services.consent.repository import NOTICE_VERSION
from shared.auth import Role
from tests.services.consent.test_consent_api import (
    ADMIN,
    PH_ORG,
    PLATFORM,
    SHARING,
    auth,
    grant,
    running,
)
from tests.support import unique

pytestmark = pytest.mark.integration

# Each stays in the calendar as written and leaves it once turned to UTC.
OUTSIDE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
SOON = (datetime.now(UTC) + timedelta(days=30)).isoformat()
PAST = (datetime.now(UTC) - timedelta(days=1)).isoformat()


@pytest.fixture
async def http(schema_factory: Callable[[str], str]) -> AsyncIterator[httpx.AsyncClient]:
    async with running(schema_factory("consent")) as client:
        yield client


def refused_field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    field: str = response.json()["detail"]["problems"][0]["field"]
    return field


def grant_body(**change: Any) -> dict[str, Any]:
    return {
        "organisation": PH_ORG,
        "data_categories": ["email_address"],
        "valid_from": PAST,
        "valid_until": SOON,
        **change,
    }


def question(**change: Any) -> dict[str, Any]:
    return {
        "user_id": "u-a",
        "organisation": PH_ORG,
        "purpose": SHARING,
        "data_categories": ["email_address"],
        **change,
    }


@pytest.mark.parametrize("instant", OUTSIDE)
async def test_an_instant_outside_the_calendar_in_utc_is_a_422_naming_its_field(
    http: httpx.AsyncClient, instant: str
) -> None:
    user = unique("u")
    consent = {"user_id": user, "purpose": SHARING, "notice_version": NOTICE_VERSION}
    calls = [
        (http.post("/grants", json=grant_body(valid_from=instant), headers=ADMIN), "valid_from"),
        (http.post("/grants", json=grant_body(valid_until=instant), headers=ADMIN), "valid_until"),
        (
            http.post("/consents", json={**consent, "valid_until": instant}, headers=ADMIN),
            "valid_until",
        ),
        (http.post("/decisions", json=question(at=instant), headers=PLATFORM), "at"),
        (http.get(f"/users/{user}/consents", params={"at": instant}, headers=ADMIN), "query.at"),
    ]
    for call, field in calls:
        assert refused_field(await call) == field


async def test_a_time_without_an_offset_is_a_422_where_consents_are_read(
    http: httpx.AsyncClient,
) -> None:
    user = unique("u")
    await grant(http, user, SHARING)
    response = await http.get(
        f"/users/{user}/consents", params={"at": "2026-01-01T00:00:00"}, headers=ADMIN
    )
    assert refused_field(response) == "query.at"


async def test_long_names_are_refused_before_they_reach_the_directory(
    http: httpx.AsyncClient,
) -> None:
    huge = "x" * 1_000_000
    user = unique("u")
    consent = {"user_id": user, "purpose": SHARING, "notice_version": NOTICE_VERSION}
    calls = [
        (http.post("/grants", json=grant_body(data_categories=[huge]), headers=ADMIN), "0"),
        (http.post("/consents", json={**consent, "organisation": huge}, headers=ADMIN), "n"),
        (http.post("/decisions", json=question(user_id=huge), headers=PLATFORM), "user_id"),
        (http.get("/grants", params={"organisation": "y" * 5000}, headers=ADMIN), "n"),
    ]
    for call, ending in calls:
        assert refused_field(await call).endswith(ending)
    long_path = await http.get(f"/users/{'y' * 5000}/consents", headers=ADMIN)
    assert refused_field(long_path) == "path.user_id"


async def test_every_success_answer_is_a_declared_model(http: httpx.AsyncClient) -> None:
    openapi = (await http.get("/openapi.json")).json()
    undeclared = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if not schema or not ("$ref" in schema or "$ref" in schema.get("items", {})):
                    undeclared.append((method, path, status))
    # The operations router (shared) answers small fixed documents of its own.
    assert [u for u in undeclared if u[1] not in ("/healthz", "/readyz", "/asyncapi.json")] == []
    assert "Receipt" in openapi["components"]["schemas"]


async def test_a_subject_reads_their_receipt_in_the_documented_shape(
    http: httpx.AsyncClient,
) -> None:
    user = unique("u")
    receipt = await grant(http, user, SHARING, organisation=PH_ORG)
    fetched = await http.get(
        f"/receipts/{receipt['receipt_id']}", headers=auth(Role.SUBJECT, user_id=user)
    )
    assert fetched.json()["services"][0]["organisations"] == [PH_ORG]
    assert fetched.json()["pii_controllers"] == [{"name": "The platform's administrators"}]


def test_a_broken_rule_names_its_field() -> None:
    now = datetime.now(UTC)
    with pytest.raises(InvalidField) as raised:
        check_window(now, now - timedelta(seconds=1))
    assert (raised.value.field, raised.value.message) == ("valid_until", "must be after valid_from")
