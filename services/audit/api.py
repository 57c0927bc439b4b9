"""HTTP routes of the audit service: queries, reports, tree heads and proofs.

Who may call what:
- ``auditor`` and ``admin``: everything;
- ``member_org``: only its own disclosures and entries (the filter is forced to its
  organisation), and inclusion proofs of its own entries;
- ``subject``: the report of who received their data;
- ``security``: which subjects an organisation received data of in a window, the tree
  heads, the public key and the proofs; not disclosure rows, exports, violations or
  entries of any organisation. An inclusion proof carries the entry's leaf hash, which
  is all a proof needs, so the entry itself (who received which fields of whom) stays
  with the auditors;
- anyone with a token: the tree heads, the public key, consistency proofs and the
  checkpoint;
- the tiles and entry bundles (c2sp.org/tlog-tiles): auditors and admins, or anyone
  without a token when ``AUDIT_TILES_PUBLIC`` is set (the checkpoint too, then).
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from services.audit import checkpoints, proofs, service, signing, tiles
from services.audit.bootstrap import AuditRuntime
from services.audit.exceptions import Forbidden, InvalidRequest
from services.audit.models import (
    ConsistencyProof,
    DisclosurePage,
    EntryOut,
    InclusionProof,
    PublicKey,
    SubjectsPage,
    TreeHead,
)
from services.audit.recipients import api as recipients_api
from services.audit.recipients import service as recipients
from services.audit.recipients.models import SubjectReport
from services.audit.service import Filters
from shared.app import SessionsDep, current_runtime
from shared.auth import CurrentPrincipal, Principal, Role, principal_from_request, require
from shared.validation import BIGINT_MAX, Instant

router = APIRouter(tags=["audit"])
TEXT = r"^[^\x00]*$"
"""Text a text column can hold (no NUL character)."""
Cursor = Annotated[
    int | None, Query(ge=0, le=BIGINT_MAX, description="next_cursor of the last page")
]
Limit = Annotated[int, Query(ge=1, le=1000)]

Readers = Annotated[Principal, Depends(require(Role.AUDITOR, Role.ADMIN, Role.MEMBER_ORG))]
Provers = Annotated[
    Principal, Depends(require(Role.AUDITOR, Role.ADMIN, Role.MEMBER_ORG, Role.SECURITY))
]
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR, Role.ADMIN))]
Security = Annotated[Principal, Depends(require(Role.SECURITY, Role.AUDITOR, Role.ADMIN))]
Subject = Annotated[Principal, Depends(require(Role.SUBJECT, Role.AUDITOR, Role.ADMIN))]


class FilterParams(BaseModel):
    subject: str | None = Field(default=None, pattern=TEXT)
    organisation: str | None = Field(default=None, pattern=TEXT)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    purpose: str | None = Field(default=None, pattern=TEXT)
    legal_basis: str | None = Field(default=None, pattern=TEXT)
    decision: Literal["allow", "deny"] | None = Field(
        default=None, description="What the read path decided: allow, or deny (refused)."
    )
    since: Instant | None = None
    until: Instant | None = None
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
        decision=params.decision,
        since=params.since,
        until=params.until,
        violations_only=params.violations,
    )


@router.get("/disclosures", summary="Disclosures, filtered, a page at a time")
async def disclosures(
    principal: Readers,
    sessions: SessionsDep,
    params: Annotated[FilterParams, Query()],
    cursor: Cursor = None,
    limit: Limit = 100,
) -> DisclosurePage:
    return await service.disclosures(
        sessions, _filters(principal, params), after=cursor, limit=limit
    )


@router.get(
    "/disclosures/export",
    summary="The same, streamed as CSV or JSON lines",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The disclosures, as CSV (format=csv) or JSON lines (format=jsonl).",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def export(
    principal: Readers,
    sessions: SessionsDep,
    params: Annotated[FilterParams, Query()],
    format: Literal["csv", "jsonl"] = "jsonl",
) -> StreamingResponse:
    body = await service.export(sessions, _filters(principal, params), format)
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
    cursor: Cursor = None,
    limit: Limit = 100,
) -> DisclosurePage:
    return await service.disclosures(
        sessions, Filters(violations_only=True), after=cursor, limit=limit
    )


@router.get("/subjects/{user_id}/report", summary="Who received my data: the right to be informed")
async def subject_report(
    user_id: Annotated[str, Path(pattern=TEXT)],
    principal: Subject,
    sessions: SessionsDep,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> SubjectReport:
    if principal.role is Role.SUBJECT and principal.user_id != user_id:
        raise Forbidden("a data subject sees only their own report", field="user_id")
    page = await service.disclosures(sessions, Filters(subject=user_id), after=cursor, limit=limit)
    runtime = current_runtime(request, AuditRuntime)  # and whom the platform told of my rights
    notices = await recipients.notices_of(sessions, runtime.recipients_clock, user_id)
    return SubjectReport(**vars(page), recipient_notices=notices)


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
    subjects = await service.subjects_accessed(
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
async def latest_tree_head(_: CurrentPrincipal, sessions: SessionsDep) -> TreeHead:
    return await signing.latest_tree_head(sessions)


@router.get("/tree-heads", summary="Signed tree heads, newest first")
async def tree_heads(
    _: CurrentPrincipal,
    sessions: SessionsDep,
    before: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    limit: Limit = 100,
) -> list[TreeHead]:
    return await signing.tree_heads(sessions, limit=limit, before=before)


@router.get("/public-key", summary="The Ed25519 key tree heads are signed with")
async def public_key(_: CurrentPrincipal, request: Request) -> PublicKey:
    runtime = current_runtime(request, AuditRuntime)
    return runtime.signer.described(runtime.settings.log_origin)


@router.get("/proofs/inclusion", summary="Entry seq is in the signed tree of tree_size")
async def inclusion_proof(
    principal: Provers,
    sessions: SessionsDep,
    seq: Annotated[int, Query(ge=0, le=BIGINT_MAX)],
    tree_size: Annotated[int, Query(ge=1, le=BIGINT_MAX)],
) -> InclusionProof:
    if principal.role is Role.MEMBER_ORG:  # only its own entries; others are not found
        await service.entry(sessions, seq, organisation=principal.org_id)
    return await proofs.inclusion(sessions, seq, tree_size)


@router.get("/proofs/consistency", summary="The tree of first is a prefix of that of second")
async def consistency_proof(
    _: CurrentPrincipal,
    sessions: SessionsDep,
    first: Annotated[int, Query(ge=1, le=BIGINT_MAX)],
    second: Annotated[int, Query(ge=1, le=BIGINT_MAX)],
) -> ConsistencyProof:
    return await proofs.consistency(sessions, first, second)


@router.get("/entries/{seq}", summary="One entry, with the exact leaf data that was hashed")
async def get_entry(
    seq: Annotated[int, Path(ge=0, le=BIGINT_MAX)], principal: Readers, sessions: SessionsDep
) -> EntryOut:
    own = principal.org_id if principal.role is Role.MEMBER_ORG else None
    return await service.entry(sessions, seq, organisation=own)


def _log_reader(request: Request, *roles: Role) -> AuditRuntime:
    """The runtime, once the caller may read the log as tiles: anyone when the operator
    made the tiles public, else a token of one of ``roles``."""
    runtime = current_runtime(request, AuditRuntime)
    if not runtime.settings.tiles_public:
        principal_from_request(request, *roles)
    return runtime


def _cache(runtime: AuditRuntime, seconds: int, *, immutable: bool = False) -> str:
    # A shared cache may keep what anyone may read; what needs a token stays private.
    scope = "public" if runtime.settings.tiles_public else "private"
    return f"{scope}, max-age={seconds}" + (", immutable" if immutable else "")


TEXT_PLAIN = "text/plain; charset=utf-8"
OCTETS = "application/octet-stream"
YEAR = 31_536_000


@router.get(
    "/checkpoint",
    summary="The newest checkpoint (C2SP signed note), with its witnesses' cosignatures",
    response_class=Response,
    responses={200: {"content": {TEXT_PLAIN: {"schema": {"type": "string"}}}}},
)
async def checkpoint(request: Request, sessions: SessionsDep) -> Response:
    runtime = _log_reader(request, *Role)
    signed = await checkpoints.latest(sessions, runtime.note_signer)
    return Response(
        signed.note, media_type=TEXT_PLAIN, headers={"Cache-Control": _cache(runtime, 1)}
    )


@router.get(
    "/tile/{tile_path:path}",
    summary="A tile of hashes (tile/<L>/<N>[.p/<W>]) or an entry bundle "
    "(tile/entries/<N>[.p/<W>]), as c2sp.org/tlog-tiles serves them",
    response_class=Response,
    responses={200: {"content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def tile(
    request: Request,
    sessions: SessionsDep,
    tile_path: Annotated[str, Path(max_length=200, pattern=TEXT)],
) -> Response:
    runtime = _log_reader(request, Role.AUDITOR, Role.ADMIN)
    wanted = tiles.parse(tile_path)
    data = await tiles.read(sessions, wanted, runtime.signed_size)
    cache = _cache(runtime, YEAR, immutable=True) if wanted.full else _cache(runtime, 60)
    return Response(data, media_type=OCTETS, headers={"Cache-Control": cache})


@router.get(
    "/entries",
    summary="Entries start to end in log order, streamed: each line one entry's exact "
    "leaf data (SHA-256(0x00 || line) is its leaf hash)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
async def entries(
    _: Auditor,
    sessions: SessionsDep,
    start: Annotated[int, Query(ge=0, le=BIGINT_MAX, description="The first position.")],
    end: Annotated[
        int,
        Query(
            ge=1,
            le=BIGINT_MAX,
            description=f"The position after the last (at most {tiles.BULK_MAX:,} after "
            "start); the answer stops at the log's end.",
        ),
    ],
) -> StreamingResponse:
    body = await tiles.entries(sessions, start, end)
    return StreamingResponse(body, media_type="application/x-ndjson")


router.include_router(recipients_api.router)  # recipient notices (docs/recipients.md)
