"""Service-provider profiles: published only with consent, public without login."""

from datetime import UTC, datetime, timedelta

import pytest

from services.registry.domain import PROFILE_FIELDS
from shared import events
from tests.services.registry.conftest import PROFILE, VISIBILITY, Stack, subject
from tests.support import wait_until

pytestmark = pytest.mark.integration


async def test_a_public_profile_shows_only_profile_fields_and_disappears_after_withdrawal(
    stack: Stack,
) -> None:
    user = await stack.register()
    uid = user["user_id"]
    created = await stack.registry.put(f"/users/{uid}/profile", json=PROFILE, headers=subject(uid))
    assert created.status_code == 201, created.text
    receipt = await stack.consent_to(uid, VISIBILITY)

    published = await stack.registry.post(f"/users/{uid}/profile/publish", headers=subject(uid))

    assert published.status_code == 200, published.text
    profile_id = published.json()["profile_id"]
    shown = await stack.registry.get(f"/profiles/{profile_id}")  # no token
    assert shown.status_code == 200
    assert set(shown.json()) == {*PROFILE_FIELDS, "profile_id", "published_at"}
    assert user["email_address"] not in shown.text
    assert user["company_registration_number"] not in shown.text
    listed = await stack.registry.get("/profiles", params={"limit": 100, "country": "ph"})
    assert listed.status_code == 200
    announced = await stack.events_about(events.PROFILE_PUBLISHED, uid, 1)
    assert announced[0]["payload"]["profile_id"] == profile_id

    await stack.withdraw(uid, receipt["consent_id"])

    async def gone() -> bool:
        return (await stack.registry.get(f"/profiles/{profile_id}")).status_code == 404

    await wait_until(gone, timeout=15, what="the profile to be unpublished")
    taken_down = await stack.events_about(events.PROFILE_UNPUBLISHED, uid, 1)
    assert taken_down[0]["payload"]["reason"] == "consent_withdrawn"
    own = await stack.registry.get(f"/users/{uid}/profile", headers=subject(uid))
    assert own.json()["published"] is False


async def test_a_profile_is_taken_down_when_its_visibility_consent_runs_out(
    stack: Stack,
) -> None:
    uid = (await stack.register())["user_id"]
    await stack.registry.put(f"/users/{uid}/profile", json=PROFILE, headers=subject(uid))
    until = datetime.now(UTC) + timedelta(days=1)
    await stack.consent_to(uid, VISIBILITY, valid_until=until.isoformat())
    published = await stack.registry.post(f"/users/{uid}/profile/publish", headers=subject(uid))
    assert published.status_code == 200
    profile_id = published.json()["profile_id"]
    await stack.clock.advance(timedelta(days=1, seconds=1))  # the registry's day passes

    async def gone() -> bool:
        return (await stack.registry.get(f"/profiles/{profile_id}")).status_code == 404

    await wait_until(gone, timeout=15, what="the lapsed profile to be taken down")
    assert await stack.clock.now() >= until
    taken_down = await stack.events_about(events.PROFILE_UNPUBLISHED, uid, 1)
    assert taken_down[0]["payload"]["reason"] == "consent_expired"
    again = await stack.registry.post(f"/users/{uid}/profile/publish", headers=subject(uid))
    assert again.status_code == 409


async def test_a_visibility_consent_scoped_to_one_organisation_does_not_publish(
    stack: Stack,
) -> None:
    uid = (await stack.register())["user_id"]
    await stack.registry.put(f"/users/{uid}/profile", json=PROFILE, headers=subject(uid))
    await stack.consent_to(uid, VISIBILITY, organisation="ph-philexport")

    response = await stack.registry.post(f"/users/{uid}/profile/publish", headers=subject(uid))

    assert response.status_code == 409


async def test_editing_a_published_profile_announces_the_new_content(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    await stack.registry.put(f"/users/{uid}/profile", json=PROFILE, headers=subject(uid))
    await stack.consent_to(uid, VISIBILITY)
    await stack.registry.post(f"/users/{uid}/profile/publish", headers=subject(uid))

    edited = {**PROFILE, "service_name": "Export coaching, now in Cebu too"}
    response = await stack.registry.put(f"/users/{uid}/profile", json=edited, headers=subject(uid))

    assert response.status_code == 200
    announced = await stack.events_about(events.PROFILE_PUBLISHED, uid, 2)
    assert [e["payload"]["service_name"] for e in announced] == [
        PROFILE["service_name"],
        "Export coaching, now in Cebu too",
    ]


async def test_publishing_without_consent_is_refused(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    await stack.registry.put(f"/users/{uid}/profile", json=PROFILE, headers=subject(uid))

    response = await stack.registry.post(f"/users/{uid}/profile/publish", headers=subject(uid))

    assert response.status_code == 409
    assert response.json()["detail"]["field"] == "consent"
    assert VISIBILITY in response.json()["detail"]["message"]


async def test_publishing_without_a_profile_is_a_404(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    response = await stack.registry.post(f"/users/{uid}/profile/publish", headers=subject(uid))
    assert response.status_code == 404


async def test_the_public_list_pages_with_a_cursor(stack: Stack) -> None:
    owners = [(await stack.register())["user_id"] for _ in range(3)]
    for uid in owners:
        body = {
            **PROFILE,
            "company_registration_country": "BN",
            "contact_person_phone": "+673 222 3333",
        }
        await stack.registry.put(f"/users/{uid}/profile", json=body, headers=subject(uid))
        await stack.consent_to(uid, VISIBILITY)
        response = await stack.registry.post(f"/users/{uid}/profile/publish", headers=subject(uid))
        assert response.status_code == 200

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"country": "BN", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await stack.registry.get("/profiles", params=params)).json()
        seen += [p["profile_id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == 3
    bad = await stack.registry.get("/profiles", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    assert bad.json()["detail"]["field"] == "cursor"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contact_person_gender": "unknown"}, "contact_person_gender"),
        ({"contact_person_email": "nobody"}, "contact_person_email"),
        ({"organisation_phone": "555"}, "organisation_phone"),
        ({"organisation_logo": "not a url"}, "organisation_logo"),
        ({"company_registration_country": "ZZ"}, "company_registration_country"),
        ({"service_description": ""}, "service_description"),
    ],
)
async def test_each_bad_profile_field_gets_a_422_naming_it(
    stack: Stack, change: dict[str, str], field: str
) -> None:
    uid = (await stack.register())["user_id"]
    response = await stack.registry.put(
        f"/users/{uid}/profile", json={**PROFILE, **change}, headers=subject(uid)
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]["problems"]] == [field]
