"""Reading many users in one request: each decided and recorded alone, all before the answer."""

from typing import Any

import pytest

from services.registry.reports import BATCH_LIMIT
from shared import events
from shared.auth import Role
from tests.services.registry.conftest import (
    ADMIN,
    PH_ORG,
    PLATFORM,
    SHARING,
    Stack,
    auth,
    org,
    subject,
)
from tests.services.registry.reading import published_since, tail

pytestmark = pytest.mark.integration

REPORTING = "aggregate_admin_reporting"
STANDING = "th-conxo-lab"
"""A web agency with standing access to everything (the first policy)."""


def batch(user_ids: list[str], fields: list[str], purpose: str = SHARING) -> dict[str, Any]:
    return {"purpose": purpose, "fields": fields, "user_ids": user_ids}


async def test_a_batch_discloses_the_allowed_refuses_the_others_and_records_each_user(
    stack: Stack,
) -> None:
    allowed = await stack.register(full_name="Ana Reyes")
    no_consent = (await stack.register())["user_id"]
    restricted = (await stack.register())["user_id"]
    unknown = "00000000-0000-4000-8000-000000000000"
    await stack.access_grant(PH_ORG, ["full_name", "country_of_residence"])
    await stack.consent_to(allowed["user_id"], SHARING, organisation=PH_ORG)
    await stack.consent_to(restricted, SHARING, organisation=PH_ORG)
    lift = {"restricted": True, "objected": False}
    put = await stack.registry.put(
        f"/users/{restricted}/restriction", json=lift, headers=subject(restricted)
    )
    assert put.status_code == 200, put.text
    ids = [allowed["user_id"], no_consent, restricted, unknown]
    start = await tail(f"{stack.prefix}{events.DATA_ACCESSED}")

    response = await stack.registry.post(
        "/reports/users",
        json=batch(ids, ["full_name", "country_of_residence"]),
        headers=org(PH_ORG),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    [disclosed] = body["disclosed"]
    assert disclosed["user_id"] == allowed["user_id"]
    assert disclosed["data"] == {"full_name": "Ana Reyes", "country_of_residence": "PH"}
    refused = {r["user_id"]: r for r in body["refused"]}
    assert set(refused) == {no_consent, restricted, unknown}
    assert "restricted" in refused[restricted]["reason"]
    assert refused[no_consent]["reason"] == refused[unknown]["reason"]  # no telling who exists
    assert body["missing"] == []
    recorded = await published_since(start, set(ids), len(ids))
    assert len(recorded) == len(ids)  # one event per user, no more
    by_user = {e["subject_id"]: e for e in recorded}
    assert by_user[allowed["user_id"]]["event_id"] == disclosed["disclosure_id"]
    assert by_user[allowed["user_id"]]["payload"]["decision"] == "allow"
    for user_id, refusal in refused.items():
        assert by_user[user_id]["event_id"] == refusal["disclosure_id"]
        assert by_user[user_id]["payload"]["decision"] == "deny"
        assert by_user[user_id]["payload"]["decision_reason"] == refusal["reason"]


async def test_a_party_with_standing_access_learns_who_is_missing_and_nothing_is_recorded_for_them(
    stack: Stack,
) -> None:
    present = (await stack.register())["user_id"]
    erased = (await stack.register())["user_id"]
    gone = await stack.registry.delete(f"/users/{erased}", headers=subject(erased))
    assert gone.status_code == 200, gone.text
    never = "never-registered"
    start = await tail(f"{stack.prefix}{events.DATA_ACCESSED}")

    response = await stack.registry.post(
        "/reports/users",
        json=batch([present, erased, never], ["full_name"], purpose=REPORTING),
        headers=org(STANDING),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["user_id"] for d in body["disclosed"]] == [present]
    assert {m["user_id"]: m["status"] for m in body["missing"]} == {
        erased: "erased",
        never: "not_found",
    }
    recorded = await published_since(start, {present, erased, never}, 1)
    assert [e["subject_id"] for e in recorded] == [present]


@pytest.mark.parametrize(
    "headers",
    [PLATFORM, ADMIN, auth(Role.AUDITOR), auth(Role.SECURITY), subject("someone")],
    ids=["platform", "admin", "auditor", "security", "subject"],
)
async def test_only_an_organisation_reads_a_batch(stack: Stack, headers: dict[str, str]) -> None:
    uid = (await stack.register())["user_id"]
    response = await stack.registry.post(
        "/reports/users", json=batch([uid], ["full_name"]), headers=headers
    )
    assert response.status_code == 403, response.text


async def test_a_batch_without_a_token_is_a_401(stack: Stack) -> None:
    response = await stack.registry.post("/reports/users", json=batch(["u"], ["full_name"]))
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"user_ids": []}, "user_ids"),
        ({"user_ids": [f"u{i}" for i in range(BATCH_LIMIT + 1)]}, "user_ids"),
        ({"user_ids": ["u1", "u1"]}, "user_ids"),
        ({"user_ids": ["not a user id"]}, "user_ids.0"),
        ({"fields": []}, "fields"),
        ({"fields": ["password"]}, "fields"),
        ({"purpose": "Not-A-Purpose"}, "purpose"),
        ({"extra": 1}, "extra"),
    ],
    ids=["none", "too-many", "twice", "bad-id", "no-fields", "unknown-field", "purpose", "extra"],
)
async def test_a_bad_batch_is_a_422_naming_the_field(
    stack: Stack, change: dict[str, Any], field: str
) -> None:
    body = {**batch(["u1"], ["full_name"]), **change}
    response = await stack.registry.post("/reports/users", json=body, headers=org(PH_ORG))
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] == field


async def test_a_batch_of_the_largest_size_is_answered(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    ids = [uid, *(f"unknown-{i}" for i in range(BATCH_LIMIT - 1))]
    response = await stack.registry.post(
        "/reports/users", json=batch(ids, ["full_name"]), headers=org(PH_ORG)
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["refused"]) == BATCH_LIMIT
