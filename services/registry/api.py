"""HTTP routes of the registry: thin, each checks the caller and calls one use case.

Who may call what:
- ``platform`` (and ``admin``) registers users;
- a ``subject`` acts only on themself (access, export, rectification, erasure,
  restriction, the profile); ``admin`` may act for any user;
- a ``member_org`` reads a user's data only through ``/users/{id}/data``, for a purpose,
  and gets only what the consent service allows;
- ``admin`` records disclosures the law compels;
- published profiles are public: no token.
"""

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from opentelemetry import propagate, trace
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic import Field as PydanticField
from starlette.routing import Route

from services.registry import disclosure, profiles, reports, service
from services.registry.bootstrap import RegistryRuntime
from services.registry.clients import ConsentClient
from services.registry.disclosure import PURPOSE_PATTERN, USER_ID_PATTERN
from services.registry.exceptions import Forbidden, InvalidRequest
from services.registry.models import (
    DisclosureOut,
    ErasureOut,
    ExportDocument,
    LegalDisclosureIn,
    ProfileIn,
    ProfileOut,
    PublicProfile,
    PublicProfilePage,
    RegistrationIn,
    RegistrationUpdate,
    RestrictionIn,
    RestrictionOut,
    UserOut,
)
from shared.app import SessionsDep, current_runtime
from shared.auth import Principal, Role, principal_from_request, require
from shared.clock import Clock
from shared.errors import ErrorResponse
from shared.validation import Instant, country_code

router = APIRouter(tags=["registry"])
tracer = trace.get_tracer(__name__)
public = APIRouter(tags=["public profiles"])

Registrar = Annotated[Principal, Depends(require(Role.PLATFORM, Role.ADMIN))]
SelfOrAdmin = Annotated[Principal, Depends(require(Role.SUBJECT, Role.ADMIN))]
MemberOrg = Annotated[Principal, Depends(require(Role.MEMBER_ORG))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


async def get_consent(request: Request) -> ConsentClient:
    """The running registry's consent client."""
    return current_runtime(request, RegistryRuntime).consent


async def get_clock(request: Request) -> Clock:
    """The running registry's clock."""
    return current_runtime(request, RegistryRuntime).clock


UserId = Annotated[str, Path(pattern=USER_ID_PATTERN, description="The user's id.")]
ConsentDep = Annotated[ConsentClient, Depends(get_consent)]
ClockDep = Annotated[Clock, Depends(get_clock)]

NO_CONSENT_SERVICE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "The consent service did not answer."}
}


def check_self(principal: Principal, user_id: str) -> None:
    """A data subject may act only on themself."""
    if principal.role is Role.SUBJECT and principal.user_id != user_id:
        raise Forbidden("a data subject may act only on their own data", field="user_id")


def _by(principal: Principal) -> str:
    """Who acted, for the log of rights requests: the subject, or the role and its holder."""
    if principal.role is Role.SUBJECT:
        return "subject"
    return f"{principal.role.value}:{principal.sub}"


# --- Registration and the data subject's rights ---------------------------------------


@router.post("/users", status_code=201, summary="Register a user (platform)")
async def register(
    body: RegistrationIn, _: Registrar, sessions: SessionsDep, clock: ClockDep
) -> UserOut:
    row = await service.register(sessions, clock, body)
    return UserOut.model_validate(row, from_attributes=True)


@router.get("/users/{user_id}", summary="Right of access: everything held about the user")
async def access(
    user_id: UserId, principal: SelfOrAdmin, sessions: SessionsDep, clock: ClockDep
) -> ExportDocument:
    check_self(principal, user_id)
    return await service.dossier(sessions, clock, user_id, kind="access", by=_by(principal))


@router.get(
    "/users/{user_id}/export",
    summary="Right to portability: the same, as a downloadable JSON document",
    response_model=ExportDocument,
)
async def export(
    user_id: UserId, principal: SelfOrAdmin, sessions: SessionsDep, clock: ClockDep
) -> Response:
    check_self(principal, user_id)
    document = await service.dossier(sessions, clock, user_id, kind="export", by=_by(principal))
    return Response(
        document.model_dump_json(indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="registry-export-{user_id}.json"'},
    )


@router.patch("/users/{user_id}", summary="Right to rectification")
async def rectify(
    user_id: UserId,
    body: RegistrationUpdate,
    principal: SelfOrAdmin,
    sessions: SessionsDep,
    clock: ClockDep,
) -> UserOut:
    check_self(principal, user_id)
    row = await service.rectify(sessions, clock, user_id, body, by=_by(principal))
    return UserOut.model_validate(row, from_attributes=True)


@router.delete("/users/{user_id}", summary="Right to erasure")
async def erase(
    user_id: UserId, principal: SelfOrAdmin, sessions: SessionsDep, clock: ClockDep
) -> ErasureOut:
    check_self(principal, user_id)
    return await service.erase(sessions, clock, user_id, by=_by(principal))


@router.put("/users/{user_id}/restriction", summary="Rights to restriction and objection")
async def restrict(
    user_id: UserId,
    body: RestrictionIn,
    principal: SelfOrAdmin,
    sessions: SessionsDep,
    clock: ClockDep,
) -> RestrictionOut:
    check_self(principal, user_id)
    user = await service.set_restriction(sessions, clock, user_id, body, by=_by(principal))
    return RestrictionOut(
        restricted=user.restricted, objected=user.objected, reason=user.restriction_reason
    )


# --- The service-provider profile -----------------------------------------------------


@router.put(
    "/users/{user_id}/profile",
    summary="Create or replace the profile",
    responses={201: {"model": ProfileOut, "description": "Created"}},
)
async def put_profile(
    user_id: UserId,
    body: ProfileIn,
    principal: SelfOrAdmin,
    sessions: SessionsDep,
    clock: ClockDep,
    response: Response,
) -> ProfileOut:
    check_self(principal, user_id)
    profile, created = await profiles.put_profile(sessions, clock, user_id, body)
    response.status_code = 201 if created else 200
    return profile


@router.get("/users/{user_id}/profile", summary="The user's profile, published or not")
async def get_profile(user_id: UserId, principal: SelfOrAdmin, sessions: SessionsDep) -> ProfileOut:
    check_self(principal, user_id)
    return await profiles.get_profile(sessions, user_id)


@router.post(
    "/users/{user_id}/profile/publish",
    summary="Publish (needs consent to public visibility)",
    responses={
        409: {"model": ErrorResponse, "description": "No consent, or processing restricted"},
        **NO_CONSENT_SERVICE,
    },
)
async def publish(
    user_id: UserId,
    principal: SelfOrAdmin,
    sessions: SessionsDep,
    clock: ClockDep,
    consent: ConsentDep,
) -> ProfileOut:
    check_self(principal, user_id)
    return await profiles.publish(sessions, clock, consent, user_id)


@router.post("/users/{user_id}/profile/unpublish", summary="Take the profile down")
async def unpublish(
    user_id: UserId, principal: SelfOrAdmin, sessions: SessionsDep, clock: ClockDep
) -> ProfileOut:
    check_self(principal, user_id)
    return await profiles.unpublish(sessions, clock, user_id)


# --- Disclosure to member organisations -----------------------------------------------


Purpose = Annotated[str, Query(pattern=PURPOSE_PATTERN, examples=["member_organisation_sharing"])]
Fields = Annotated[
    list[str], Query(description="Field names; repeat the parameter or separate by commas.")
]


@router.get(
    "/users/{user_id}/data",
    summary="A member organisation reads a user's data, for a purpose",
    response_model=DisclosureOut,
    responses={
        403: {"model": ErrorResponse, "description": "Refused; the attempt is recorded"},
        **NO_CONSENT_SERVICE,
    },
)
async def read_data(
    request: Request, user_id: UserId, _: MemberOrg, purpose: Purpose, fields: Fields
) -> Response:
    # Documents the route; the same function served as a plain Starlette route placed
    # ahead of this one answers it (see below).
    return await serve_read(request)


class _ReadQuery(BaseModel):
    user_id: UserId
    purpose: Purpose
    fields: Annotated[list[str], PydanticField(min_length=1)]


_USER_ID = re.compile(USER_ID_PATTERN)
_PURPOSE = re.compile(PURPOSE_PATTERN)


async def serve_read(request: Request) -> Response:
    """``GET /users/{id}/data``, lean: the caller checked, the query checked, one use case,
    the answer encoded once (FastAPI's dependency, validation and response handling cost
    as much as the rest of the read together)."""
    # Where the app leaves this path out of its automatic HTTP tracing (``UNTRACED``),
    # a read joins the caller's trace only when the caller sent one, as /decisions does.
    if "traceparent" in request.headers and not trace.get_current_span().is_recording():
        with tracer.start_as_current_span(
            "GET /users/{user_id}/data",
            context=propagate.extract(request.headers),
            kind=trace.SpanKind.SERVER,
        ):
            return await _read(request)
    return await _read(request)


UNTRACED = ("/users/[^/]+/data",)
"""What ``create_app(untraced_paths=...)`` should leave out of its tracing middleware."""


async def _read(request: Request) -> Response:
    principal = principal_from_request(request, Role.MEMBER_ORG)
    assert principal.org_id is not None  # a member_org token always names its organisation
    user_id: str = request.path_params["user_id"]
    purpose = request.query_params.get("purpose")
    fields = request.query_params.getlist("fields")
    if (
        purpose is None
        or not fields
        or not (_PURPOSE.fullmatch(purpose) and _USER_ID.fullmatch(user_id))
    ):
        _invalid({"user_id": user_id, "purpose": purpose, "fields": fields})
    assert purpose is not None
    runtime = current_runtime(request, RegistryRuntime)
    body = await disclosure.disclose(
        runtime.engine,
        runtime.consent,
        runtime.clock,
        user_id=user_id,
        organisation=principal.org_id,
        actor=principal.sub,
        purpose=purpose,
        requested=[f.strip() for item in fields for f in item.split(",") if f.strip()],
    )
    return Response(body, media_type="application/json")


def _invalid(query: dict[str, Any]) -> None:
    """Raise what FastAPI would have: a 422 naming each field, path or query, that is wrong."""
    where = {"user_id": "path", "purpose": "query", "fields": "query"}
    present = {k: v for k, v in query.items() if v is not None and v != []}
    try:
        _ReadQuery.model_validate(present)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [{**e, "loc": (where[str(e["loc"][0])], *e["loc"])} for e in errors]
        ) from exc


# The read path is served by a plain Starlette route placed ahead of the documented
# FastAPI route above, which then only describes it in the OpenAPI document.
router.routes.insert(
    0, Route("/users/{user_id}/data", serve_read, methods=["GET"], include_in_schema=False)
)


@router.post(
    "/users/{user_id}/legal-disclosures",
    status_code=201,
    summary="Record and perform a disclosure the law compels (admin)",
)
async def legal_disclosure(
    user_id: UserId, body: LegalDisclosureIn, principal: Admin, request: Request
) -> DisclosureOut:
    runtime = current_runtime(request, RegistryRuntime)
    answer = await disclosure.disclose_by_law(
        runtime.engine, runtime.clock, user_id=user_id, body=body, by=principal.sub
    )
    return DisclosureOut.model_validate(answer)


@router.post(
    "/reports/users",
    summary="A reporting job reads many users' data, for a purpose (member organisation)",
    response_model=reports.BatchReadOut,
    responses={**NO_CONSENT_SERVICE},
)
async def read_many(body: reports.BatchReadIn, principal: MemberOrg, request: Request) -> Response:
    """One decision and one recorded ``data.accessed`` per user, all committed before the
    answer; refusals listed per user."""
    assert principal.org_id is not None  # a member_org token always names its organisation
    runtime = current_runtime(request, RegistryRuntime)
    answer = await reports.disclose_many(
        runtime.engine,
        runtime.consent,
        runtime.clock,
        organisation=principal.org_id,
        actor=principal.sub,
        body=body,
    )
    return Response(disclosure.encode(answer), media_type="application/json")


# --- Published profiles: public -------------------------------------------------------


_CURSOR_KEY = TypeAdapter(tuple[Instant, UUID])
"""What a cursor holds: the last profile's publication and id, each checked again."""


def _cursor(row: PublicProfile) -> str:
    raw = f"{row.published_at.isoformat()}|{row.profile_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _after(cursor: str | None) -> tuple[datetime, UUID] | None:
    if cursor is None:
        return None
    try:
        at, _, profile_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return _CURSOR_KEY.validate_python((at, profile_id))
    except (ValueError, binascii.Error) as exc:  # pydantic's ValidationError is a ValueError
        raise InvalidRequest("not a cursor this API returned", field="cursor") from exc


@public.get("/profiles", summary="Published profiles; no login needed")
async def list_profiles(
    sessions: SessionsDep,
    country: Annotated[str | None, Query(description="Country of company registration.")] = None,
    service_type: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PublicProfilePage:
    if country is not None:
        try:
            country = country_code(country)
        except ValueError as exc:
            raise InvalidRequest(str(exc), field="country") from exc
    rows = await profiles.public_profiles(
        sessions, country=country, service_type=service_type, after=_after(cursor), limit=limit
    )
    items = [PublicProfile.model_validate(r, from_attributes=True) for r in rows]
    more = len(items) == limit
    return PublicProfilePage(items=items, next_cursor=_cursor(items[-1]) if more else None)


@public.get("/profiles/{profile_id}", summary="One published profile; no login needed")
async def get_public_profile(profile_id: UUID, sessions: SessionsDep) -> PublicProfile:
    row = await profiles.public_profile(sessions, profile_id)
    return PublicProfile.model_validate(row, from_attributes=True)
