"""Who may call what: a subject sees only themself, an organisation only what it is
allowed, nobody reads without a token; and the API documents describe everything."""

import pytest

from services.registry.topics import PUBLISHED
from shared import events
from tests.services.registry.conftest import (
    ADMIN,
    PH_ORG,
    PLATFORM,
    PROFILE,
    Stack,
    org,
    registration,
    subject,
)

pytestmark = pytest.mark.integration

USER_ROUTES = [
    ("GET", "/users/{id}"),
    ("GET", "/users/{id}/export"),
    ("PATCH", "/users/{id}"),
    ("DELETE", "/users/{id}"),
    ("PUT", "/users/{id}/restriction"),
    ("GET", "/users/{id}/profile"),
    ("PUT", "/users/{id}/profile"),
    ("POST", "/users/{id}/profile/publish"),
    ("POST", "/users/{id}/profile/unpublish"),
]
BODIES = {
    "PATCH": {"company_name": "X"},
    "PUT": {"restricted": False, "objected": False},
}


async def test_nobody_reads_or_writes_without_a_token(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    calls = [*USER_ROUTES, ("GET", "/users/{id}/data"), ("POST", "/users/{id}/legal-disclosures")]
    for method, path in calls:
        response = await stack.registry.request(method, path.format(id=uid))
        assert response.status_code == 401, (method, path)
    assert (await stack.registry.post("/users", json=registration())).status_code == 401


async def test_a_subject_may_act_only_on_themself(stack: Stack) -> None:
    me = (await stack.register())["user_id"]
    other = (await stack.register())["user_id"]
    for method, path in USER_ROUTES:
        body = PROFILE if path.endswith("/profile") and method == "PUT" else BODIES.get(method)
        response = await stack.registry.request(
            method, path.format(id=other), json=body, headers=subject(me)
        )
        assert response.status_code == 403, (method, path, response.text)
    still_there = await stack.registry.get(f"/users/{other}", headers=subject(other))
    assert still_there.status_code == 200


async def test_an_organisation_cannot_use_the_subject_routes_or_register(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    for method, path in USER_ROUTES:
        response = await stack.registry.request(
            method, path.format(id=uid), json=BODIES.get(method), headers=org(PH_ORG)
        )
        assert response.status_code == 403, (method, path)
    response = await stack.registry.post("/users", json=registration(), headers=org(PH_ORG))
    assert response.status_code == 403


async def test_only_an_organisation_reads_through_the_data_route(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    params = {"purpose": "member_organisation_sharing", "fields": "full_name"}
    for headers in (subject(uid), PLATFORM, ADMIN):
        response = await stack.registry.get(f"/users/{uid}/data", params=params, headers=headers)
        assert response.status_code == 403


async def test_openapi_and_asyncapi_describe_every_route_and_event(stack: Stack) -> None:
    openapi = (await stack.registry.get("/openapi.json")).json()
    paths = {(m.upper(), p) for p, ops in openapi["paths"].items() for m in ops}
    expected = {(m, p.replace("{id}", "{user_id}")) for m, p in USER_ROUTES} | {
        ("POST", "/users"),
        ("GET", "/users/{user_id}/data"),
        ("POST", "/users/{user_id}/legal-disclosures"),
        ("GET", "/profiles"),
        ("GET", "/profiles/{profile_id}"),
    }
    assert expected <= paths
    assert "ExportDocument" in openapi["components"]["schemas"]

    asyncapi = (await stack.registry.get("/asyncapi.json")).json()
    addresses = {c["address"] for c in asyncapi["channels"].values()}
    topics = {*PUBLISHED, events.CONSENT_GRANTED, events.CONSENT_WITHDRAWN}
    assert {f"{stack.prefix}{topic}" for topic in topics} <= addresses
