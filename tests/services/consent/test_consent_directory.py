"""The directory's privacy contacts and the revoke endpoint: validation and roles."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.services.consent.test_consent_api import ADMIN, PH_ORG, PLATFORM, auth, running
from tests.support import unique

pytestmark = pytest.mark.integration

MEMBER = auth(Role.MEMBER_ORG, org_id=PH_ORG)
NOT_ADMINS = {
    "member_org": MEMBER,
    "platform": PLATFORM,
    "auditor": auth(Role.AUDITOR),
    "subject": auth(Role.SUBJECT, user_id="u-a"),
}


@pytest.fixture
async def schema(schema_factory: Callable[[str], str]) -> str:
    return schema_factory("consent")


@pytest.fixture
async def http(schema: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running(schema) as client:
        yield client


async def new_grant(http: httpx.AsyncClient, *, ended: bool = False) -> dict[str, Any]:
    now = datetime.now(UTC)
    start = now - timedelta(days=20 if ended else 1)
    response = await http.post(
        "/grants",
        json={
            "organisation": PH_ORG,
            "data_categories": ["email_address"],
            "valid_from": start.isoformat(),
            "valid_until": (start + timedelta(days=10 if ended else 30)).isoformat(),
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(response: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    detail: dict[str, Any] = response.json()["detail"]
    return detail


async def test_the_directory_lists_each_seeded_organisations_privacy_contact(
    http: httpx.AsyncClient,
) -> None:
    listed = (await http.get("/organisations", headers=MEMBER)).json()
    assert len(listed) == 58
    contacts = {o["slug"]: o["privacy_contact"] for o in listed}
    assert contacts[PH_ORG] == f"privacy@{PH_ORG}.example"
    assert all(c == f"privacy@{slug}.example" for slug, c in contacts.items())


async def test_an_admin_changes_only_the_fields_given(http: httpx.AsyncClient) -> None:
    renamed = await http.patch(f"/organisations/{PH_ORG}", json={"name": "DTI"}, headers=ADMIN)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "DTI"
    assert renamed.json()["privacy_contact"] == f"privacy@{PH_ORG}.example"
    removed = await http.patch(
        f"/organisations/{PH_ORG}", json={"privacy_contact": None}, headers=ADMIN
    )
    assert removed.json()["privacy_contact"] is None and removed.json()["name"] == "DTI"
    listed = {o["slug"]: o for o in (await http.get("/organisations", headers=ADMIN)).json()}
    assert listed[PH_ORG]["privacy_contact"] is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"privacy_contact": "not-an-address"}, "privacy_contact"),
        ({"privacy_contact": "dpo@localhost"}, "privacy_contact"),
        ({"privacy_contact": "dpo@x.test"}, "privacy_contact"),
        (
            {"privacy_contact": f"{'a' * 64}@{'b' * 60}.{'c' * 60}.{'d' * 60}.example"},
            "privacy_contact",
        ),
        ({"privacy_contact": 7}, "privacy_contact"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"country": "TH"}, "country"),
        ({}, None),
    ],
)
async def test_a_bad_change_is_a_422_naming_its_field(
    http: httpx.AsyncClient, body: dict[str, Any], field: str | None
) -> None:
    detail = refused(await http.patch(f"/organisations/{PH_ORG}", json=body, headers=ADMIN))
    assert detail.get("field") == field


async def test_a_new_organisations_privacy_contact_is_validated(http: httpx.AsyncClient) -> None:
    slug = unique("ph-agency").replace("_", "-")
    body = {"slug": slug, "name": "Agency", "country": "PH", "kind": "governmental"}
    bad = await http.post(
        "/organisations", json={**body, "privacy_contact": "nobody"}, headers=ADMIN
    )
    assert refused(bad)["problems"][0]["field"] == "privacy_contact"
    created = await http.post(
        "/organisations", json={**body, "privacy_contact": "dpo@agency.example"}, headers=ADMIN
    )
    assert created.status_code == 201 and created.json()["privacy_contact"] == "dpo@agency.example"
    again = await http.post("/organisations", json=body, headers=ADMIN)
    assert refused(again, 409)["field"] == "slug"


async def test_an_unknown_or_retired_organisation_cannot_change(http: httpx.AsyncClient) -> None:
    change = {"privacy_contact": "dpo@x.example"}
    unknown = await http.patch("/organisations/no-such-org", json=change, headers=ADMIN)
    assert refused(unknown, 404)["field"] == "slug"
    slug = unique("ph-gone").replace("_", "-")
    body = {"slug": slug, "name": "Gone", "country": "PH", "kind": "private"}
    assert (await http.post("/organisations", json=body, headers=ADMIN)).status_code == 201
    assert (await http.post(f"/organisations/{slug}/retire", headers=ADMIN)).status_code == 204
    retired = await http.patch(f"/organisations/{slug}", json=change, headers=ADMIN)
    assert refused(retired, 409)["field"] == "slug"
    again = await http.post(f"/organisations/{slug}/retire", headers=ADMIN)
    assert again.status_code == 204


async def test_only_an_admin_changes_the_directory_or_revokes(http: httpx.AsyncClient) -> None:
    made = await new_grant(http)
    change = {"privacy_contact": "dpo@x.example"}
    for role, headers in NOT_ADMINS.items():
        patched = await http.patch(f"/organisations/{PH_ORG}", json=change, headers=headers)
        assert patched.status_code == 403, role
        revoked = await http.post(f"/grants/{made['grant_id']}/revoke", headers=headers)
        assert revoked.status_code == 403, role
    assert (await http.patch(f"/organisations/{PH_ORG}", json=change)).status_code == 401
    assert (await http.post(f"/grants/{made['grant_id']}/revoke")).status_code == 401
    grants = (await http.get("/grants", headers=MEMBER)).json()
    assert [g["revoked_at"] for g in grants] == [None], "a member's own grant stays in force"


async def test_revoking_answers_404_409_and_is_idempotent(http: httpx.AsyncClient) -> None:
    unknown = await http.post("/grants/00000000-0000-4000-8000-000000000000/revoke", headers=ADMIN)
    assert refused(unknown, 404)["field"] == "grant_id"
    malformed = await http.post("/grants/not-a-uuid/revoke", headers=ADMIN)
    assert refused(malformed)["problems"][0]["field"] == "path.grant_id"
    ended = await new_grant(http, ended=True)
    over = await http.post(f"/grants/{ended['grant_id']}/revoke", headers=ADMIN)
    assert refused(over, 409)["field"] == "grant_id"

    made = await new_grant(http)
    first = await http.post(f"/grants/{made['grant_id']}/revoke", headers=ADMIN)
    assert first.status_code == 200 and first.json()["revoked_at"] is not None
    second = await http.post(f"/grants/{made['grant_id']}/revoke", headers=ADMIN)
    assert second.status_code == 200 and second.json() == first.json()


async def test_a_seeded_organisation_gets_its_contact_once_and_an_admins_removal_stays(
    schema: str, admin_engine: AsyncEngine
) -> None:
    other = "th-board-of-trade"
    async with running(schema) as http:
        await http.patch(f"/organisations/{PH_ORG}", json={"privacy_contact": None}, headers=ADMIN)
    # As a directory seeded before privacy contacts existed: no contact, never announced.
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                f'UPDATE "{schema}".organisations SET privacy_contact = NULL, '
                "announced_at = NULL WHERE slug = :slug"
            ),
            {"slug": other},
        )
    async with running(schema) as http:
        listed = {o["slug"]: o for o in (await http.get("/organisations", headers=ADMIN)).json()}
    assert listed[other]["privacy_contact"] == f"privacy@{other}.example"
    assert listed[PH_ORG]["privacy_contact"] is None
