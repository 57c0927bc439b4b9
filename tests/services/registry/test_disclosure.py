"""The member-organisation read path: decided by the consent service, always recorded."""

import pytest

from shared import events
from tests.services.registry.conftest import (
    ADMIN,
    BORDER,
    PH_ORG,
    SHARING,
    TH_ORG,
    Stack,
    org,
)

pytestmark = pytest.mark.integration


async def test_an_organisation_with_consent_gets_the_data_and_one_data_accessed(
    stack: Stack,
) -> None:
    user = await stack.register()
    uid = user["user_id"]
    await stack.access_grant(PH_ORG, ["email_address", "full_name"])
    receipt = await stack.consent_to(uid, SHARING, organisation=PH_ORG)

    response = await stack.read(uid, PH_ORG, "email_address,full_name")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] == {"email_address": user["email_address"], "full_name": "Maria Santos"}
    assert body["decision"]["consent_id"] == receipt["consent_id"]
    accessed = await stack.events_about(events.DATA_ACCESSED, uid, 1, settle=2.0)
    assert len(accessed) == 1
    record = accessed[0]
    assert record["event_id"] == body["disclosure_id"]
    expected = {
        "organisation_id": PH_ORG,
        "organisation_country": "PH",
        "actor": f"analyst@{PH_ORG}",
        "subject_id": uid,
        "subject_country": "PH",
        "fields": ["email_address", "full_name"],
        "purpose": SHARING,
        "legal_basis": "consent",
        "decision": "allow",
        "consent_id": receipt["consent_id"],
        "consent_version": 1,
    }
    assert {k: record["payload"][k] for k in expected} == expected
    assert record["payload"]["grant_id"] == body["decision"]["grant_id"] is not None


async def test_without_consent_the_organisation_gets_403_no_data_and_the_attempt_is_recorded(
    stack: Stack,
) -> None:
    uid = (await stack.register())["user_id"]
    await stack.access_grant(PH_ORG, ["email_address"])

    response = await stack.read(uid, PH_ORG, "email_address")

    assert response.status_code == 403
    assert "data" not in response.json()
    detail = response.json()["detail"]
    assert "no consent" in detail["message"]
    denied = await stack.events_about(events.DATA_ACCESSED, uid, 1)
    assert denied[0]["event_id"] == detail["disclosure_id"]
    assert denied[0]["payload"]["decision"] == "deny"
    assert denied[0]["payload"]["decision_reason"] == detail["message"]


async def test_an_organisation_cannot_tell_an_unknown_user_from_one_without_consent(
    stack: Stack,
) -> None:
    known = (await stack.register())["user_id"]
    unknown = "00000000-0000-4000-8000-000000000000"
    await stack.access_grant(PH_ORG, ["email_address"])

    answers = [await stack.read(uid, PH_ORG, "email_address") for uid in (known, unknown)]

    assert [a.status_code for a in answers] == [403, 403]
    messages = [a.json()["detail"]["message"] for a in answers]
    assert messages[0] == messages[1]
    recorded = await stack.events_about(events.DATA_ACCESSED, unknown, 1)
    assert recorded[0]["payload"]["decision"] == "deny"


async def test_after_withdrawal_the_organisation_is_refused(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    await stack.access_grant(PH_ORG, ["email_address"])
    receipt = await stack.consent_to(uid, SHARING, organisation=PH_ORG)
    assert (await stack.read(uid, PH_ORG, "email_address")).status_code == 200

    await stack.withdraw(uid, receipt["consent_id"])

    assert (await stack.read(uid, PH_ORG, "email_address")).status_code == 403
    decisions = [
        e["payload"]["decision"] for e in await stack.events_about(events.DATA_ACCESSED, uid, 2)
    ]
    assert decisions == ["allow", "deny"]


async def test_a_transfer_across_a_border_needs_cross_border_consent(stack: Stack) -> None:
    uid = (await stack.register(country_of_residence="PH"))["user_id"]
    await stack.access_grant(TH_ORG, ["full_name"])
    await stack.consent_to(uid, SHARING, organisation=TH_ORG)

    refused = await stack.read(uid, TH_ORG, "full_name")

    assert refused.status_code == 403
    assert "cross-border" in refused.json()["detail"]["message"]
    await stack.consent_to(uid, BORDER, organisation=TH_ORG)
    allowed = await stack.read(uid, TH_ORG, "full_name")
    assert allowed.status_code == 200
    recorded = await stack.events_about(events.DATA_ACCESSED, uid, 2)
    assert [
        (e["payload"]["subject_country"], e["payload"]["organisation_country"]) for e in recorded
    ] == [
        ("PH", "TH"),
        ("PH", "TH"),
    ]


async def test_outside_the_grant_window_the_organisation_is_refused(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    expired_org = "ph-philexport"
    await stack.access_grant(expired_org, ["email_address"], start=-30, end=-1)
    await stack.consent_to(uid, SHARING, organisation=expired_org)

    response = await stack.read(uid, expired_org, "email_address")

    assert response.status_code == 403
    assert "no access grant" in response.json()["detail"]["message"]


async def test_an_organisation_gets_only_the_fields_it_asked_for(stack: Stack) -> None:
    user = await stack.register(tax_number="TIN-1")
    uid = user["user_id"]
    await stack.access_grant(PH_ORG, ["email_address", "tax_number"])
    await stack.consent_to(uid, SHARING, organisation=PH_ORG)

    response = await stack.read(uid, PH_ORG, "tax_number")

    assert response.json()["data"] == {"tax_number": "TIN-1"}


async def test_a_field_the_registry_does_not_hold_is_a_422_naming_fields(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    response = await stack.read(uid, PH_ORG, "email_address,password")
    assert response.status_code == 422
    assert response.json()["detail"]["field"] == "fields"
    assert "password" in response.json()["detail"]["message"]


async def test_a_legal_obligation_is_disclosed_by_an_admin_with_basis_and_reference(
    stack: Stack,
) -> None:
    user = await stack.register()
    uid = user["user_id"]

    response = await stack.registry.post(
        f"/users/{uid}/legal-disclosures",
        json={
            "organisation": "makati-regional-trial-court",
            "organisation_country": "PH",
            "fields": ["full_name", "email_address"],
            "legal_reference": "Subpoena duces tecum No. 2026-1142",
        },
        headers=ADMIN,
    )

    assert response.status_code == 201, response.text
    assert response.json()["data"]["email_address"] == user["email_address"]
    recorded = (await stack.events_about(events.DATA_ACCESSED, uid, 1))[0]["payload"]
    assert recorded["legal_basis"] == "legal_obligation"
    assert recorded["legal_reference"] == "Subpoena duces tecum No. 2026-1142"
    assert recorded["purpose"] == "legal_disclosure"


async def test_an_organisation_may_not_record_a_legal_disclosure(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    response = await stack.registry.post(
        f"/users/{uid}/legal-disclosures",
        json={"organisation": PH_ORG, "fields": ["full_name"], "legal_reference": "none"},
        headers=org(PH_ORG),
    )
    assert response.status_code == 403
