"""Resolving a scope on fakes: the audit service's answer read through its model, an
organisation's scope asked of the audit client with its typed window, one notice per
person carrying the same account of the breach."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.breach import resolution
from services.breach.clients import AuditClient, SubjectsPage
from services.breach.config import BreachSettings
from services.breach.exceptions import AuditUnavailable
from services.breach.models import (
    BreachRow,
    CountryScope,
    OrganisationScope,
    UsersScope,
    stored_scope,
)
from services.breach.service import scope_row
from tests.fast.fakes import NOWHERE_DATABASE, infrastructure

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
WINDOW = {
    "kind": "organisation",
    "organisation": "ph-dti",
    "since": "2031-02-01T00:00:00Z",
    "until": "2031-03-01T00:00:00Z",
    "data_categories": ["email_address"],
}


PAGE = {
    "organisation": "ph-dti",
    "since": "2031-02-01T00:00:00Z",
    "until": "2031-03-01T00:00:00Z",
    "categories": None,
    "subjects": ["u-1", "u-2"],
    "next_after": "u-2",
}
"""A page as the audit service answers it (``GET /organisations/{o}/subjects``)."""


def settings() -> BreachSettings:
    return BreachSettings(db_schema="fast_breach", database_url=NOWHERE_DATABASE)


def audit_answering(status: int, body: Any, seen: list[httpx.Request]) -> AuditClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=json.dumps(body).encode())

    return AuditClient(
        settings(), base_url="http://audit", timeout=1, transport=httpx.MockTransport(answer)
    )


async def test_the_audit_services_page_is_read_through_its_model() -> None:
    seen: list[httpx.Request] = []
    audit = audit_answering(200, PAGE, seen)
    page = await audit.subjects(
        "ph-dti",
        since=T0 - timedelta(days=30),
        until=T0,
        categories=["email_address", "full_name"],
        after=None,
        limit=2,
    )
    await audit.close()
    assert page == SubjectsPage(subjects=["u-1", "u-2"], next_after="u-2")
    (request,) = seen
    assert request.url.path == "/organisations/ph-dti/subjects"
    assert request.url.params["categories"] == "email_address,full_name"
    assert request.headers["authorization"].startswith("Bearer ")


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (200, {k: v for k, v in PAGE.items() if k != "subjects"}, "subjects: Field required"),
        (200, {**PAGE, "subjects": "u-1"}, "subjects: Input should be a valid array"),
        (503, {"detail": "starting"}, "answered 503"),
    ],
)
async def test_an_odd_or_failed_answer_is_audit_unavailable_saying_what_was_wrong(
    status: int, body: Any, says: str
) -> None:
    audit = audit_answering(status, body, [])
    with pytest.raises(AuditUnavailable) as caught:
        await audit.subjects("ph-dti", since=T0, until=T0, categories=None, after=None, limit=1)
    await audit.close()
    assert says in caught.value.message


def test_a_stored_scope_reads_back_as_its_model() -> None:
    declared = OrganisationScope.model_validate(WINDOW)
    row = scope_row(uuid.uuid4(), declared, actor="sec", at=T0)
    back = stored_scope(row.kind, row.spec)
    assert back == declared and isinstance(back.since, datetime)
    assert stored_scope("country", {"country": "PH"}) == CountryScope(kind="country", country="PH")
    named = stored_scope("users", {})  # the named people stay in the table
    assert isinstance(named, UsersScope) and named.user_ids == []


class FakeAudit:
    """The audit client's one call, answered from memory and remembered."""

    def __init__(self, pages: dict[str | None, SubjectsPage]) -> None:
        self.pages = pages
        self.asked: list[dict[str, Any]] = []

    async def subjects(self, organisation: str, **query: Any) -> SubjectsPage:
        self.asked.append({"organisation": organisation, **query})
        return self.pages[query["after"]]


async def test_an_organisations_scope_is_paged_from_the_audit_client_with_its_window() -> None:
    infra = infrastructure(settings())
    audit = FakeAudit(
        {
            None: SubjectsPage(subjects=["u-1", "u-2"], next_after="u-2"),
            "u-2": SubjectsPage(subjects=["u-3"], next_after=None),
        }
    )
    scope = OrganisationScope.model_validate(WINDOW)
    row = scope_row(uuid.uuid4(), scope, actor="sec", at=T0)
    first = await resolution.fetch(infra.sessions, audit, row, scope, size=2)  # type: ignore[arg-type]
    row.cursor = first.next_cursor
    last = await resolution.fetch(infra.sessions, audit, row, scope, size=2)  # type: ignore[arg-type]
    await infra.engine.dispose()

    assert (first, last) == (
        resolution.Page(["u-1", "u-2"], "u-2"),
        resolution.Page(["u-3"], None),
    )
    assert audit.asked[0] == {
        "organisation": "ph-dti",
        "since": datetime(2031, 2, 1, tzinfo=UTC),
        "until": datetime(2031, 3, 1, tzinfo=UTC),
        "categories": ["email_address"],
        "after": None,
        "limit": 2,
    }
    assert audit.asked[1]["after"] == "u-2"


def test_each_person_gets_one_notice_with_the_same_account_and_their_own_id() -> None:
    breach = BreachRow(
        breach_id=uuid.uuid4(),
        reference="BR-2031-0001",
        title="Exported contact list left on a public bucket",
        what_happened="A CSV export was readable by anyone with the link.",
        kinds=["confidentiality"],
        detected_at=T0 - timedelta(hours=1),
        aware_at=T0,
        data_categories=["email_address"],
        likely_consequences="Phishing.",
        measures_taken="Closed.",
        what_you_can_do="Be wary.",
        contact_point="dpo@example.org",
        declared_by="sec",
        declared_at=T0,
    )
    notices = resolution.notices(breach, ["u-1", "u-2", "u-3"], ["email_address"])
    assert [n.payload.user_id for n in notices] == ["u-1", "u-2", "u-3"]
    assert [n.subject_id for n in notices] == ["u-1", "u-2", "u-3"]
    assert len({n.event_id for n in notices}) == 3
    assert len({n.payload.notice_id for n in notices}) == 3
    assert {n.payload.model_dump_json(exclude={"notice_id", "user_id"}) for n in notices} == {
        notices[0].payload.model_dump_json(exclude={"notice_id", "user_id"})
    }
    assert notices[0].payload.deadline_at == T0 + timedelta(hours=72)
