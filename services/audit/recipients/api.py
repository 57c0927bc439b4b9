"""HTTP routes of recipient notices.

Who may call what:
- ``member_org``: its own requests only (another organisation's is not found), and it
  answers them: ``confirm`` (done) or ``keep`` (kept under an independent authorisation
  of the person, with its reference);
- ``auditor``, ``admin`` and ``security``: every request, filtered, a page at a time;
  they do not answer for an organisation;
- ``subject``: the notices about them, in their report (``GET /subjects/{user_id}/report``).
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from services.audit.bootstrap import AuditRuntime
from services.audit.exceptions import Forbidden
from services.audit.recipients import service
from services.audit.recipients.domain import Answer, State
from services.audit.recipients.models import KeepBody, RecipientRequestOut, RecipientRequestPage
from services.audit.recipients.repository import RequestFilters
from shared.app import current_runtime
from shared.auth import Principal, Role, require
from shared.events import RecipientAction
from shared.validation import BIGINT_MAX

router = APIRouter(tags=["recipient notices"])
TEXT = r"^[^\x00]*$"

Readers = Annotated[
    Principal, Depends(require(Role.MEMBER_ORG, Role.AUDITOR, Role.ADMIN, Role.SECURITY))
]
Organisation = Annotated[Principal, Depends(require(Role.MEMBER_ORG))]
RequestId = Annotated[UUID, Path(description="The request's id.")]


class RequestQuery(BaseModel):
    organisation: str | None = Field(default=None, pattern=TEXT, max_length=200)
    action: RecipientAction | None = None
    state: State | None = Field(
        default=None, description="outstanding, overdue (past respond_by), confirmed, kept."
    )
    user_id: str | None = Field(default=None, pattern=TEXT, max_length=200)
    cursor: int | None = Field(default=None, ge=0, le=BIGINT_MAX, description="next_cursor")
    limit: int = Field(default=100, ge=1, le=1000)


def _own(principal: Principal, organisation: str | None) -> str | None:
    if principal.role is not Role.MEMBER_ORG:
        return organisation
    if organisation not in (None, principal.org_id):
        raise Forbidden("an organisation sees only its own requests", field="organisation")
    return principal.org_id


@router.get("/recipient-requests", summary="Requests to recipients, filtered, a page at a time")
async def list_requests(
    principal: Readers, request: Request, q: Annotated[RequestQuery, Query()]
) -> RecipientRequestPage:
    runtime = current_runtime(request, AuditRuntime)
    filters = RequestFilters(
        organisation=_own(principal, q.organisation),
        user_id=q.user_id,
        action=q.action.value if q.action else None,
        state=q.state.value if q.state else None,
    )
    return await service.page(
        runtime.sessions, runtime.recipients_clock, filters, after=q.cursor, limit=q.limit
    )


@router.get("/recipient-requests/{request_id}", summary="One request to a recipient")
async def get_request(
    request_id: RequestId, principal: Readers, request: Request
) -> RecipientRequestOut:
    runtime = current_runtime(request, AuditRuntime)
    own = principal.org_id if principal.role is Role.MEMBER_ORG else None
    return await service.get(
        runtime.sessions, runtime.recipients_clock, request_id, organisation=own
    )


async def _answer(
    request: Request,
    principal: Principal,
    request_id: UUID,
    answer: Answer,
    reference: str | None,
) -> RecipientRequestOut:
    runtime = current_runtime(request, AuditRuntime)
    return await service.answer(
        runtime.sessions,
        runtime.recipients_clock,
        request_id,
        organisation=principal.org_id or "",  # a member_org token always names one
        answer=answer,
        reference=reference,
        actor=principal.sub,
    )


@router.post(
    "/recipient-requests/{request_id}/confirm",
    summary="The organisation did what it was asked (erased, corrected, stopped)",
)
async def confirm(
    request_id: RequestId, principal: Organisation, request: Request
) -> RecipientRequestOut:
    return await _answer(request, principal, request_id, Answer.CONFIRMED, None)


@router.post(
    "/recipient-requests/{request_id}/keep",
    summary="The organisation keeps the data under an independent authorisation of the person",
)
async def keep(
    request_id: RequestId, principal: Organisation, request: Request, body: KeepBody
) -> RecipientRequestOut:
    return await _answer(request, principal, request_id, Answer.KEPT, body.reference.strip())
