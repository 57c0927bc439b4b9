"""HTTP routes of the consent service: thin, each calls one service function."""

from typing import Annotated
from uuid import UUID

import msgspec
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from opentelemetry import propagate, trace
from pydantic import ValidationError
from starlette.routing import Route

from services.consent import directory, service
from services.consent.bootstrap import ConsentRuntime
from services.consent.domain import DecisionRequest
from services.consent.exceptions import Forbidden, NotFound
from services.consent.models import (
    ConsentGrantRequest,
    ConsentOut,
    DecisionOut,
    DecisionQuery,
    GrantCreate,
    GrantOut,
    HistoryOut,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
    PurposeOut,
    Receipt,
    WithdrawRequest,
)
from services.consent.projection import Projection
from shared.app import SessionsDep, current_runtime, runtime_of
from shared.auth import CurrentPrincipal, Principal, Role, principal_from_request, require
from shared.validation import Instant

router = APIRouter(tags=["consent"])
tracer = trace.get_tracer(__name__)

Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Actor = Annotated[Principal, Depends(require(Role.SUBJECT, Role.PLATFORM, Role.ADMIN))]
Reader = Annotated[
    Principal, Depends(require(Role.SUBJECT, Role.PLATFORM, Role.ADMIN, Role.AUDITOR))
]


async def get_projection(request: Request) -> Projection:
    """The running service's decision projection."""
    return current_runtime(request, ConsentRuntime).projection


ProjectionDep = Annotated[Projection, Depends(get_projection)]
RuntimeDep = Annotated[ConsentRuntime, Depends(runtime_of(ConsentRuntime))]
UserId = Annotated[str, Path(max_length=100, description="The user's id.")]
Slug = Annotated[str, Path(max_length=100, description="The organisation's slug.")]
_ENCODE = msgspec.json.Encoder().encode


def check_self(principal: Principal, user_id: str) -> None:
    """A data subject may act only on themself."""
    if principal.role is Role.SUBJECT and principal.user_id != user_id:
        raise Forbidden("a data subject may act only on their own consents", field="user_id")


@router.get("/purposes", summary="Purposes, their legal basis and current notice")
async def list_purposes(_: CurrentPrincipal, sessions: SessionsDep) -> list[PurposeOut]:
    return [PurposeOut.model_validate(row) for row in await service.purposes(sessions)]


@router.get("/organisations", summary="The member-organisation directory")
async def list_organisations(_: CurrentPrincipal, sessions: SessionsDep) -> list[OrganisationOut]:
    return [OrganisationOut.model_validate(r) for r in await service.organisations(sessions)]


@router.post("/organisations", status_code=201, summary="Add an organisation (admin)")
async def add_organisation(
    body: OrganisationCreate, _: Admin, sessions: SessionsDep, projection: ProjectionDep
) -> OrganisationOut:
    row = await directory.create_organisation(sessions, projection, body)
    return OrganisationOut.model_validate(row)


@router.patch(
    "/organisations/{slug}",
    summary="Change an organisation's name or privacy contact (admin)",
    description="Only the fields given change; `privacy_contact: null` removes it. "
    "404: no such organisation; 409: it was retired.",
)
async def update_organisation(
    slug: Slug, body: OrganisationUpdate, _: Admin, sessions: SessionsDep, projection: ProjectionDep
) -> OrganisationOut:
    row = await directory.update_organisation(sessions, projection, slug, body)
    return OrganisationOut.model_validate(row)


@router.post("/organisations/{slug}/retire", status_code=204, summary="Retire (admin)")
async def retire_organisation(slug: Slug, _: Admin, runtime: RuntimeDep) -> None:
    await directory.retire_organisation(runtime.sessions, runtime.projection, slug, runtime.clock)


@router.post("/grants", status_code=201, summary="Grant an organisation time-bound access")
async def add_grant(body: GrantCreate, principal: Admin, runtime: RuntimeDep) -> GrantOut:
    row = await directory.create_grant(
        runtime.sessions, runtime.projection, body, created_by=principal.sub, clock=runtime.clock
    )
    return GrantOut.model_validate(row)


@router.post(
    "/grants/{grant_id}/revoke",
    summary="Revoke an access grant before its end (admin)",
    description="From the answer on, no decision of this replica relies on the grant; the "
    "other replicas follow within the propagation time (docs/registry-consent.md). "
    "Idempotent: revoking a revoked grant answers 200 with the grant as its first "
    "revocation left it, and changes nothing. 404: no such grant; 409: its period ended.",
)
async def revoke_grant(grant_id: UUID, _: Admin, runtime: RuntimeDep) -> GrantOut:
    row = await directory.revoke_grant(
        runtime.sessions, runtime.projection, grant_id, runtime.clock
    )
    return GrantOut.model_validate(row)


@router.get("/grants", summary="Access grants; an organisation sees only its own")
async def list_grants(
    principal: Annotated[Principal, Depends(require(Role.ADMIN, Role.AUDITOR, Role.MEMBER_ORG))],
    sessions: SessionsDep,
    organisation: Annotated[str | None, Query(max_length=100)] = None,
) -> list[GrantOut]:
    if principal.role is Role.MEMBER_ORG:
        if organisation not in (None, principal.org_id):
            raise Forbidden("an organisation sees only its own grants", field="organisation")
        organisation = principal.org_id
    return [GrantOut.model_validate(row) for row in await service.grants(sessions, organisation)]


@router.post("/consents", status_code=201, summary="Grant consent; returns the receipt")
async def grant_consent(
    body: ConsentGrantRequest, principal: Actor, runtime: RuntimeDep
) -> Receipt:
    check_self(principal, body.user_id)
    return await service.grant(
        runtime.sessions,
        runtime.projection,
        runtime.clock,
        user_id=body.user_id,
        purpose=body.purpose,
        organisation=body.organisation,
        country=body.country,
        data_categories=frozenset(body.data_categories),
        notice_version=body.notice_version,
        valid_until=body.valid_until,
    )


@router.post("/consents/{consent_id}/withdraw", summary="Withdraw; returns the receipt")
async def withdraw_consent(
    consent_id: UUID,
    body: WithdrawRequest,
    principal: Actor,
    runtime: RuntimeDep,
) -> Receipt:
    owner = principal.user_id if principal.role is Role.SUBJECT else None
    return await service.withdraw(
        runtime.sessions,
        runtime.projection,
        runtime.clock,
        consent_id=consent_id,
        reason=body.reason,
        owner=owner,
    )


@router.get("/users/{user_id}/consents", summary="Consents as they stood at an instant")
async def user_consents(
    user_id: UserId,
    principal: Reader,
    sessions: SessionsDep,
    at: Annotated[Instant | None, Query(description="Default: now.")] = None,
) -> list[ConsentOut]:
    check_self(principal, user_id)
    consents = await service.consents_at(sessions, user_id=user_id, at=at)
    return [ConsentOut.model_validate(c) for c in consents]


@router.get("/users/{user_id}/consents/history", summary="Every change, oldest first")
async def user_history(
    user_id: UserId, principal: Reader, sessions: SessionsDep
) -> list[HistoryOut]:
    check_self(principal, user_id)
    return [HistoryOut.model_validate(r) for r in await service.history(sessions, user_id=user_id)]


@router.get("/receipts/{receipt_id}", summary="A consent receipt")
async def get_receipt(receipt_id: UUID, principal: Reader, sessions: SessionsDep) -> Receipt:
    row = await service.get_receipt(sessions, change_id=receipt_id)
    if principal.role is Role.SUBJECT and principal.user_id != row.user_id:
        raise NotFound(f"no receipt {receipt_id}", field="receipt_id")
    return Receipt.model_validate(row.receipt)


@router.post(
    "/decisions",
    summary="May this organisation receive this data now?",
    response_model=DecisionOut,
    openapi_extra={
        "security": [{"HTTPBearer": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": DecisionQuery.model_json_schema()}},
        },
    },
)
async def decide(request: Request) -> Response:
    # The hot path: validated straight from bytes and serialized once, skipping
    # FastAPI's dependencies and generic body and response handling. It is left out of the automatic
    # OpenTelemetry middleware (which costs as much as the rest of the request) and joins
    # the caller's trace only when the caller sent one.
    if "traceparent" in request.headers:
        with tracer.start_as_current_span(
            "POST /decisions",
            context=propagate.extract(request.headers),
            kind=trace.SpanKind.SERVER,
        ):
            return await _decide(request)
    return await _decide(request)


async def _decide(request: Request) -> Response:
    principal_from_request(request, Role.PLATFORM, Role.ADMIN)
    try:
        body = DecisionQuery.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
    runtime = current_runtime(request, ConsentRuntime)
    decision = service.decide(
        runtime.projection,
        DecisionRequest(
            user_id=body.user_id,
            organisation=body.organisation,
            purpose=body.purpose,
            data_categories=frozenset(body.data_categories),
            at=body.at or await runtime.clock.now(),
            subject_country=body.subject_country,
        ),
    )
    return Response(_ENCODE(decision), media_type="application/json")


# The decision API is served by a plain Starlette route placed ahead of the documented
# FastAPI route above, which then only describes it in the OpenAPI document: the same
# function, without FastAPI's per-request routing and dependency machinery.
router.routes.insert(0, Route("/decisions", decide, methods=["POST"], include_in_schema=False))
