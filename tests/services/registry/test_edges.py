"""Boundary inputs get a 4xx naming the field, never a 5xx; every answer is documented."""

import base64

import pytest

from services.registry.domain import InvalidField, NotPublishable, Restriction, check_publishable
from services.registry.exceptions import Conflict, InvalidRequest, refused
from tests.services.registry.conftest import PLATFORM, Stack, registration, subject

pytestmark = pytest.mark.integration


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "tampered",
    [
        cursor("0001-01-01T00:00:00+01:00|00000000-0000-0000-0000-000000000000"),
        cursor("9999-12-31T23:59:59-01:00|00000000-0000-0000-0000-000000000000"),
        cursor("2026-01-01T00:00:00|00000000-0000-0000-0000-000000000000"),
        cursor("2026-01-01T00:00:00+00:00|not-a-uuid"),
        "x" * 5000,
    ],
)
async def test_a_tampered_cursor_is_a_422_naming_cursor(stack: Stack, tampered: str) -> None:
    response = await stack.registry.get("/profiles", params={"cursor": tampered})
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] in ("cursor", "query.cursor")


async def test_a_megabyte_name_is_a_422_naming_it(stack: Stack) -> None:
    body = registration(full_name="x" * 1_000_000)
    response = await stack.registry.post("/users", json=body, headers=PLATFORM)
    assert response.status_code == 422
    assert response.json()["detail"]["field"] == "full_name"


async def test_a_rectification_keeps_the_registration_rules(stack: Stack) -> None:
    uid = (await stack.register())["user_id"]
    for change, field in [
        ({"number_of_employees": 2**63}, "number_of_employees"),
        ({"language": "English!"}, "language"),
        ({"company_country": "XX"}, "company_country"),
        ({"personal_address": "x" * 501}, "personal_address"),
    ]:
        response = await stack.registry.patch(f"/users/{uid}", json=change, headers=subject(uid))
        assert response.status_code == 422, (change, response.text)
        assert response.json()["detail"]["field"] == field


async def test_every_success_answer_and_the_503_are_declared_models(stack: Stack) -> None:
    openapi = (await stack.registry.get("/openapi.json")).json()
    undeclared = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not (status.startswith("2") or status in ("403", "409", "503")):
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if not schema or "$ref" not in schema:
                    undeclared.append((method, path, status))
    # The operations router (shared) answers small fixed documents of its own.
    assert [u for u in undeclared if u[1] not in ("/healthz", "/readyz", "/asyncapi.json")] == []
    for path, method in [
        ("/users/{user_id}/profile/publish", "post"),
        ("/users/{user_id}/data", "get"),
    ]:
        assert "ErrorResponse" in str(openapi["paths"][path][method]["responses"]["503"])


def test_each_broken_rule_becomes_the_error_of_its_kind_naming_its_field() -> None:
    with pytest.raises(NotPublishable) as raised:
        check_publishable(has_consent=True, restriction=Restriction(restricted=True))
    error = refused(raised.value)
    assert isinstance(error, Conflict) and error.field == "restriction"
    assert error.message.startswith("the user has restricted processing")
    invalid = refused(InvalidField("fields", "name at least one field"))
    assert isinstance(invalid, InvalidRequest) and invalid.field == "fields"
