"""``GET /organisations/{organisation}/subjects``: who an organisation received data of
in a window, narrowed by data category, a keyset page at a time."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.auth import Role
from tests.services.audit.conftest import Append, auth, body
from tests.support import unique

pytestmark = pytest.mark.integration

SECURITY = auth(Role.SECURITY)
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def window(start: float = 0, end: float = 60, **extra: object) -> dict[str, Any]:
    return {"since": at(start), "until": at(end), **extra}


async def subjects(http: httpx.AsyncClient, org: str, **params: Any) -> dict[str, Any]:
    response = await http.get(f"/organisations/{org}/subjects", params=params, headers=SECURITY)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_the_subjects_an_organisation_received_in_the_window_exactly(
    api: httpx.AsyncClient, append: Append
) -> None:
    org, other = unique("org"), unique("org")
    await append(
        [
            body(organisation_id=org, subject_id="s-b", accessed_at=at(5)),
            body(organisation_id=org, subject_id="s-a", accessed_at=at(59.9)),
            body(organisation_id=org, subject_id="s-b", accessed_at=at(6)),  # counted once
            body(organisation_id=org, subject_id="s-early", accessed_at=at(-0.001)),
            body(organisation_id=org, subject_id="s-at-until", accessed_at=at(60)),
            body(organisation_id=other, subject_id="s-other", accessed_at=at(5)),
            body(organisation_id=org, subject_id="s-start", accessed_at=at(0)),
        ]
    )

    page = await subjects(api, org, **window())

    assert page == {
        "organisation": org,
        "since": "2026-11-20T10:00:00Z",
        "until": "2026-11-20T11:00:00Z",
        "categories": None,
        "subjects": ["s-a", "s-b", "s-start"],
        "next_after": None,
    }


async def test_categories_narrow_to_the_entries_whose_fields_overlap_them(
    api: httpx.AsyncClient, append: Append
) -> None:
    org = unique("org")
    await append(
        [
            body(organisation_id=org, subject_id="s-mail", fields=["email_address"]),
            body(organisation_id=org, subject_id="s-both", fields=["phone_number", "full_name"]),
            body(organisation_id=org, subject_id="s-name", fields=["full_name"]),
            body(organisation_id=org, subject_id="s-none", fields=[]),
        ]
    )
    wide = {"since": "2026-01-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}

    narrowed = await subjects(api, org, **wide, categories="phone_number, email_address")
    everyone = await subjects(api, org, **wide)

    assert narrowed["subjects"] == ["s-both", "s-mail"]
    assert narrowed["categories"] == ["email_address", "phone_number"]
    assert everyone["subjects"] == ["s-both", "s-mail", "s-name", "s-none"]
    refused = await api.get(
        f"/organisations/{org}/subjects", params={**wide, "categories": " , "}, headers=SECURITY
    )
    assert refused.status_code == 422
    assert refused.json()["detail"]["field"] == "categories"


async def test_paging_through_2500_subjects_gives_each_once(
    api: httpx.AsyncClient, append: Append
) -> None:
    org = unique("org")
    ids = [f"subject-{i:05d}-{unique('x')}" for i in range(2500)]
    await append([body(organisation_id=org, subject_id=s, accessed_at=at(1)) for s in ids])

    pages: list[list[str]] = []
    after: str | None = None
    while len(pages) < 10:  # bounded: three pages are expected
        params = window(limit=1000) | ({"after": after} if after else {})
        page = await subjects(api, org, **params)
        pages.append(page["subjects"])
        after = page["next_after"]
        if after is None:
            break
        assert after == page["subjects"][-1]

    assert [len(p) for p in pages] == [1000, 1000, 500]
    assert [s for p in pages for s in p] == sorted(ids)


async def test_a_refused_access_does_not_count(api: httpx.AsyncClient, append: Append) -> None:
    org = unique("org")
    await append(
        [
            body(organisation_id=org, subject_id="s-refused", decision="deny"),
            body(organisation_id=org, subject_id="s-allowed", decision="allow"),
        ]
    )
    wide = {"since": "2026-01-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}
    assert (await subjects(api, org, **wide))["subjects"] == ["s-allowed"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"until": "2026-11-21T00:00:00Z"}, "query.since"),
        ({"since": "2026-11-20T00:00:00", "until": "2026-11-21T00:00:00Z"}, "query.since"),
        ({"since": "0001-01-01T00:00:00+01:00", "until": "2026-11-21T00:00:00Z"}, "query.since"),
        ({"since": "2026-11-20T00:00:00Z", "until": "9999-12-31T23:59:59-01:00"}, "query.until"),
        ({"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"}, "until"),
        ({**window(), "limit": 10_001}, "query.limit"),
        ({**window(), "limit": 0}, "query.limit"),
        ({**window(), "after": "a\x00b"}, "query.after"),
    ],
)
async def test_a_bad_window_or_page_is_a_422_naming_the_field(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await api.get("/organisations/o/subjects", params=params, headers=SECURITY)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] == field


@pytest.mark.parametrize("role", [Role.SECURITY, Role.AUDITOR, Role.ADMIN])
async def test_security_auditors_and_admins_may_ask(api: httpx.AsyncClient, role: Role) -> None:
    response = await api.get("/organisations/o/subjects", params=window(), headers=auth(role))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [auth(Role.MEMBER_ORG, org_id="o"), auth(Role.SUBJECT, user_id="u"), auth(Role.PLATFORM)],
)
async def test_other_roles_may_not(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await api.get("/organisations/o/subjects", params=window(), headers=headers)
    assert response.status_code == 403
