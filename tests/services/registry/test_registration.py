"""Registration and the data subject's rights, against the real broker and database."""

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import events
from tests.services.registry.conftest import (
    ADMIN,
    PH_ORG,
    PLATFORM,
    PROFILE,
    SHARING,
    VISIBILITY,
    Stack,
    registration,
    subject,
)
from tests.support import wait_until

pytestmark = pytest.mark.integration


async def test_registration_emits_exactly_one_user_registered(stack: Stack) -> None:
    user = await stack.register(phone_number="02 8123 4567", language="fil")
    assert user["phone_number"] == "+63281234567"  # national form read in the user's country

    registered = await stack.events_about(events.USER_REGISTERED, user["user_id"], 1, settle=2.0)

    assert len(registered) == 1
    assert registered[0]["payload"] == {
        "user_id": user["user_id"],
        "full_name": "Maria Santos",
        "email": user["email_address"],
        "country": "PH",
        "language": "fil",
    }


async def test_duplicate_email_is_a_409_whatever_its_case(stack: Stack) -> None:
    first = await stack.register()
    response = await stack.registry.post(
        "/users",
        json=registration(email_address=first["email_address"].upper()),
        headers=PLATFORM,
    )
    assert response.status_code == 409
    assert response.json()["detail"]["field"] == "email_address"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email_address": "maria-at-example"}, "email_address"),
        ({"country_of_residence": "XX"}, "country_of_residence"),
        ({"company_country": "Philippines"}, "company_country"),
        ({"phone_number": "12"}, "phone_number"),
        ({"number_of_employees": -3}, "number_of_employees"),
        ({"language": "English!"}, "language"),
        ({"full_name": "   "}, "full_name"),
        ({"nickname": "Mia"}, "nickname"),
        ({"referral_source": None}, "referral_source"),
        ({"company_name": "Santos\x00Export"}, "company_name"),
        ({"language": "en-" + "x" * 40}, "language"),
    ],
)
async def test_each_bad_registration_field_gets_a_422_naming_it(
    stack: Stack, change: dict[str, Any], field: str
) -> None:
    response = await stack.registry.post("/users", json=registration(**change), headers=PLATFORM)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]["problems"]] == [field]


async def test_a_malformed_user_id_in_the_path_is_a_422(stack: Stack) -> None:
    response = await stack.registry.get("/users/a%00b", headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["detail"]["problems"][0]["field"] == "path.user_id"


async def test_changing_only_the_reason_of_an_objection_is_recorded(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    for reason in ("no marketing", "no profiling either"):
        response = await stack.registry.put(
            f"/users/{uid}/restriction",
            json={"restricted": False, "objected": True, "reason": reason},
            headers=subject(uid),
        )
        assert response.json()["reason"] == reason
    changes = await stack.events_about(events.USER_RESTRICTION_CHANGED, uid, 2)
    assert [c["payload"]["reason"] for c in changes] == ["no marketing", "no profiling either"]


async def test_a_missing_required_field_is_named(stack: Stack) -> None:
    body = registration()
    del body["business_support_network"]
    response = await stack.registry.post("/users", json=body, headers=PLATFORM)
    assert response.status_code == 422
    assert response.json()["detail"]["problems"][0]["field"] == "business_support_network"
    assert response.json()["detail"]["problems"][0]["problem"] == "Field required"


async def test_rectification_changes_the_fields_and_emits_user_updated(stack: Stack) -> None:
    user = await stack.register()
    uid = user["user_id"]
    new_email = f"new-{user['email_address']}"
    response = await stack.registry.patch(
        f"/users/{uid}",
        json={"email_address": new_email, "company_name": "Santos Global"},
        headers=subject(uid),
    )
    assert response.status_code == 200, response.text
    assert response.json()["company_name"] == "Santos Global"

    updated = await stack.events_about(events.USER_UPDATED, uid, 1)
    assert updated[0]["payload"]["changed_fields"] == ["company_name", "email_address"]
    assert updated[0]["payload"]["email"] == new_email
    assert updated[0]["payload"]["full_name"] is None  # unchanged fields are not repeated


async def test_rectification_cannot_remove_a_required_field(stack: Stack) -> None:
    user = await stack.register()
    response = await stack.registry.patch(
        f"/users/{user['user_id']}", json={"company_name": None}, headers=subject(user["user_id"])
    )
    assert response.status_code == 422
    assert response.json()["detail"]["field"] == "company_name"


async def test_export_contains_everything_held(stack: Stack) -> None:
    optional = {
        "personal_address": "12 Ayala Avenue, Makati",
        "phone_number": "+63 917 123 4567",
        "organisation_type": "private",
        "tax_number": "TIN-123-456-789",
        "number_of_employees": 12,
    }
    user = await stack.register(**optional)
    uid = user["user_id"]
    assert (
        await stack.registry.put(f"/users/{uid}/profile", json=PROFILE, headers=subject(uid))
    ).status_code == 201
    await stack.registry.put(
        f"/users/{uid}/restriction",
        json={"restricted": False, "objected": True, "reason": "no marketing"},
        headers=subject(uid),
    )

    response = await stack.registry.get(f"/users/{uid}/export", headers=subject(uid))

    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    document = response.json()
    assert document["format"] == "privacy-events.registry-export"
    held = {**registration(), **optional}
    for name in held:
        assert name in document["user"], name
    assert document["user"]["tax_number"] == "TIN-123-456-789"
    assert document["user"]["email_address"] == user["email_address"]
    assert document["profile"]["service_name"] == PROFILE["service_name"]
    assert document["restriction"] == {
        "restricted": False,
        "objected": True,
        "reason": "no marketing",
    }
    assert [r["kind"] for r in document["rights_requests"]] == ["objection", "export"]


async def test_erasure_leaves_no_personal_data_and_emits_user_erased(
    stack: Stack, admin_engine: AsyncEngine
) -> None:
    personal = {
        "full_name": "Erasable Person",
        "personal_address": "99 Forgotten Street",
        "phone_number": "+63 917 555 0101",
        "tax_number": "TIN-ERASE-ME",
    }
    user = await stack.register(**personal)
    uid = user["user_id"]
    await stack.registry.put(f"/users/{uid}/profile", json=PROFILE, headers=subject(uid))
    await stack.consent_to(uid, VISIBILITY)
    assert (
        await stack.registry.post(f"/users/{uid}/profile/publish", headers=subject(uid))
    ).status_code == 200
    await stack.access_grant(PH_ORG, ["full_name"])
    await stack.consent_to(uid, SHARING, organisation=PH_ORG)
    assert (await stack.read(uid, PH_ORG, "full_name")).status_code == 200

    response = await stack.registry.delete(f"/users/{uid}", headers=subject(uid))

    assert response.status_code == 200
    assert response.json()["profile_unpublished"] is True
    erased = await stack.events_about(events.USER_ERASED, uid, 1)
    assert erased[0]["payload"]["requested_by"] == "subject"
    unpublished = await stack.events_about(events.PROFILE_UNPUBLISHED, uid, 1)
    assert unpublished[0]["payload"]["reason"] == "user_erased"

    values = [
        *personal.values(),
        "+639175550101",
        user["email_address"],
        user["company_registration_number"],
        PROFILE["contact_person_email"],
        PROFILE["service_description"],
    ]

    async def leftovers() -> list[str]:
        found = []
        async with admin_engine.connect() as conn:
            tables = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": stack.schema}
            )
            for (table,) in tables:
                rows = await conn.execute(
                    text(f'SELECT row_to_json(t)::text FROM "{stack.schema}"."{table}" t')
                )
                found += [f"{table}: {v}" for (row,) in rows for v in values if v in row]
        return found

    async def drained() -> bool:  # events waiting in the outbox still hold data until sent
        return await leftovers() == []

    await wait_until(drained, what="the outbox to drain")
    assert (await stack.registry.get(f"/users/{uid}", headers=ADMIN)).status_code == 410

    # An organisation cannot tell an erased user from one it has no consent for, once
    # the consent service has read the erasure (behind every user.erased on the topic).
    async def consent_forgot() -> bool:
        return (await stack.read(uid, PH_ORG, "full_name")).status_code != 410

    await wait_until(consent_forgot, timeout=120, what="the consent service to read the erasure")
    refused = await stack.read(uid, PH_ORG, "full_name")
    assert refused.status_code == 403
    assert "no consent" in refused.json()["detail"]["message"]


async def test_restriction_is_honoured_by_the_read_path_and_takes_the_profile_down(
    stack: Stack,
) -> None:
    user = await stack.register()
    uid = user["user_id"]
    await stack.access_grant(PH_ORG, ["email_address"])
    await stack.consent_to(uid, SHARING, organisation=PH_ORG)
    await stack.registry.put(f"/users/{uid}/profile", json=PROFILE, headers=subject(uid))
    await stack.consent_to(uid, VISIBILITY)
    published = await stack.registry.post(f"/users/{uid}/profile/publish", headers=subject(uid))
    assert (await stack.read(uid, PH_ORG, "email_address")).status_code == 200

    restrict = await stack.registry.put(
        f"/users/{uid}/restriction",
        json={"restricted": True, "objected": False},
        headers=subject(uid),
    )

    assert restrict.status_code == 200
    refused = await stack.read(uid, PH_ORG, "email_address")
    assert refused.status_code == 403
    assert "restricted" in refused.json()["detail"]["message"]
    profile_id = published.json()["profile_id"]
    assert (await stack.registry.get(f"/profiles/{profile_id}")).status_code == 404
    changed = await stack.events_about(events.USER_RESTRICTION_CHANGED, uid, 1)
    assert changed[0]["payload"]["restricted"] is True

    await stack.registry.put(
        f"/users/{uid}/restriction",
        json={"restricted": False, "objected": False},
        headers=subject(uid),
    )

    async def allowed_again() -> bool:  # once the consent service has the lifting event too
        return (await stack.read(uid, PH_ORG, "email_address")).status_code == 200

    await wait_until(allowed_again, what="the restriction to be lifted everywhere")
