"""HTTP routes of the audit service: queries, reports, tree heads and proofs.

Who may call what:
- ``auditor`` and ``admin``: everything;
- ``member_org``: only its own disclosures (the filter is forced to its organisation);
- ``subject``: the report of who received their data;
- ``security``: which subjects an organisation received data of in a window, and the
  tree heads and proofs.
"""

import base64
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel

from services.audit import queries, repository, service
from services.audit.bootstrap import AuditRuntime
from services.audit.exceptions import Forbidden, InvalidRequest, NotFound
from services.audit.models import SubjectsPage
from services.audit.queries import Filters
from shared.app import SessionsDep, current_runtime
from shared.auth import CurrentPrincipal, Principal, Role, require
from shared.db import Sessions
from shared.validation import Instant

router = APIRouter(tags=["audit"])
TEXT = r"^[^\x00]*$"
"""Text a text column can hold (no NUL character)."""

Readers = Annotated[
    Principal, Depends(require(Role.AUDITOR, Role.ADMIN, Role.MEMBER_ORG, Role.SECURITY))
]
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR, Role.ADMIN))]
Security = Annotated[Principal, Depends(require(Role.SECURITY, Role.AUDITOR, Role.ADMIN))]
Subject = Annotated[Principal, Depends(require(Role.SUBJECT, Role.AUDITOR, Role.ADMIN))]


class FilterParams(BaseModel):
    subject: str | None = None
    organisation: str | None = None
    country: str | None = Query(default=None, pattern=r"^[A-Z]{2}$")
    purpose: str | None = None
    legal_basis: str | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    violations: bool = False


def _filters(principal: Principal, params: FilterParams) -> Filters:
    organisation = params.organisation
    if principal.role is Role.MEMBER_ORG:
        if organisation not in (None, principal.org_id):
            raise Forbidden("an organisation sees only its own disclosures", field="organisation")
        organisation = principal.org_id
    return Filters(
        subject=params.subject,
        organisation=organisation,
        country=params.country,
        purpose=params.purpose,
        legal_basis=params.legal_basis,
        since=params.since,
        until=params.until,
        violations_only=params.violations,
    )


class DisclosurePage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: int | None

    @classmethod
    def of(cls, rows: list[dict[str, Any]], limit: int) -> "DisclosurePage":
        """A full page points at the next one; a short page is the last."""
        return cls(items=rows, next_cursor=rows[-1]["seq"] if len(rows) == limit else None)


@router.get("/disclosures", summary="Disclosures, filtered, a page at a time")
async def disclosures(
    principal: Readers,
    sessions: SessionsDep,
    params: Annotated[FilterParams, Query()],
    cursor: Annotated[int | None, Query(ge=-1, description="next_cursor of the last page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DisclosurePage:
    rows = await queries.page(sessions, _filters(principal, params), after=cursor, limit=limit)
    return DisclosurePage.of(rows, limit)


@router.get("/disclosures/export", summary="The same, streamed as CSV or JSON lines")
async def export(
    principal: Readers,
    sessions: SessionsDep,
    params: Annotated[FilterParams, Query()],
    format: Literal["csv", "jsonl"] = "jsonl",
) -> StreamingResponse:
    rows = queries.stream(sessions, _filters(principal, params))
    body = queries.csv_lines(rows) if format == "csv" else queries.jsonl(rows)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="disclosures-{stamp}.{format}"'},
    )


@router.get("/violations", summary="Disclosures that had no valid consent or basis")
async def violations(
    _: Auditor,
    sessions: SessionsDep,
    cursor: Annotated[int | None, Query(ge=-1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DisclosurePage:
    rows = await queries.page(sessions, Filters(violations_only=True), after=cursor, limit=limit)
    return DisclosurePage.of(rows, limit)


@router.get("/subjects/{user_id}/report", summary="Who received my data: the right to be informed")
async def subject_report(
    user_id: str,
    principal: Subject,
    sessions: SessionsDep,
    cursor: Annotated[int | None, Query(ge=-1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DisclosurePage:
    if principal.role is Role.SUBJECT and principal.user_id != user_id:
        raise Forbidden("a data subject sees only their own report", field="user_id")
    rows = await queries.page(sessions, Filters(subject=user_id), after=cursor, limit=limit)
    return DisclosurePage.of(rows, limit)


def _categories(value: str | None) -> list[str] | None:
    """``a,b,c`` as a sorted list without repeats; None when not given."""
    if value is None:
        return None
    names = sorted({name.strip() for name in value.split(",") if name.strip()})
    if not names:
        raise InvalidRequest("categories: name at least one data category", field="categories")
    return names


@router.get(
    "/organisations/{organisation}/subjects",
    summary="Which subjects an organisation received data of in a window",
)
async def subjects_accessed(
    organisation: Annotated[str, Path(pattern=TEXT)],
    _: Security,
    sessions: SessionsDep,
    since: Annotated[Instant, Query(description="The window's start (included).")],
    until: Annotated[Instant, Query(description="The window's end (excluded).")],
    categories: Annotated[
        str | None,
        Query(
            pattern=TEXT,
            max_length=2000,
            description="Comma-separated data categories: an entry counts when its fields "
            "overlap them.",
            examples=["email_address,phone_number"],
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(pattern=TEXT, max_length=500, description="next_after of the last page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> SubjectsPage:
    if until < since:
        raise InvalidRequest("until: must not be before since", field="until")
    wanted = _categories(categories)
    subjects = await queries.subjects_accessed(
        sessions, organisation, since, until, categories=wanted, after=after, limit=limit
    )
    return SubjectsPage(
        organisation=organisation,
        since=since,
        until=until,
        categories=wanted,
        subjects=subjects,
        next_after=subjects[-1] if len(subjects) == limit else None,
    )


@router.get("/tree-heads/latest", summary="The newest signed tree head")
async def latest_tree_head(_: CurrentPrincipal, sessions: SessionsDep) -> dict[str, Any]:
    return await service.latest_tree_head(sessions)


@router.get("/tree-heads", summary="Signed tree heads, newest first")
async def tree_heads(
    _: CurrentPrincipal,
    sessions: SessionsDep,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await repository.tree_heads(session, limit=limit, before=before)
    return [service.tree_head_out(r) for r in rows]


@router.get("/public-key", summary="The Ed25519 key tree heads are signed with")
async def public_key(_: CurrentPrincipal, request: Request) -> dict[str, str]:
    signer = current_runtime(request, AuditRuntime).signer
    return {
        "algorithm": "Ed25519",
        "key_id": signer.key_id,
        "public_key": base64.b64encode(signer.public_key).decode(),
    }


@router.get("/proofs/inclusion", summary="Entry seq is in the signed tree of tree_size")
async def inclusion_proof(
    principal: Readers,
    sessions: SessionsDep,
    seq: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    if principal.role is Role.MEMBER_ORG:
        await _own_entry(sessions, principal, seq)
    return await service.inclusion(sessions, seq, tree_size)


@router.get("/proofs/consistency", summary="The tree of first is a prefix of that of second")
async def consistency_proof(
    _: CurrentPrincipal,
    sessions: SessionsDep,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    return await service.consistency(sessions, first, second)


@router.get("/entries/{seq}", summary="One entry, with the exact leaf data that was hashed")
async def get_entry(seq: int, principal: Readers, sessions: SessionsDep) -> dict[str, Any]:
    row = await _own_entry(sessions, principal, seq)
    async with sessions() as session:
        found = await repository.entries_from(
            session, seq, recorded_before=datetime.max.replace(tzinfo=UTC), limit=1
        )
    leaf = found[0][1].leaf()
    return {**row, "leaf_data": base64.b64encode(leaf).decode()}


async def _own_entry(sessions: Sessions, principal: Principal, seq: int) -> dict[str, Any]:
    row = await queries.entry(sessions, seq)
    if row is None or (
        principal.role is Role.MEMBER_ORG and row["organisation_id"] != principal.org_id
    ):
        raise NotFound(f"no entry {seq}", field="seq")
    return row
