"""HTTP routes of triage: ``security`` declares or dismisses; ``security`` and ``auditor``
read; every other role gets 403, a call without a token 401."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.breach.bootstrap import BreachRuntime
from services.breach.triage import service
from services.breach.triage.models import (
    DeclaredOut,
    DismissalIn,
    IncidentDeclarationIn,
    IncidentList,
    IncidentOut,
    Status,
)
from shared.app import runtime_of
from shared.auth import Principal, Role, require

router = APIRouter(tags=["triage"])

Security = Annotated[Principal, Depends(require(Role.SECURITY))]
Reader = Annotated[Principal, Depends(require(Role.SECURITY, Role.AUDITOR))]
RuntimeDep = Annotated[BreachRuntime, Depends(runtime_of(BreachRuntime))]


@router.get("/incidents", summary="Suspected incidents detection raised, the open ones first")
async def list_incidents(
    _: Reader,
    runtime: RuntimeDep,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> IncidentList:
    rows = await service.listing(runtime.sessions, status=status, limit=limit)
    return IncidentList(incidents=rows)


@router.get("/incidents/{incident_id}", summary="One incident with its evidence and decision")
async def get_incident(_: Reader, runtime: RuntimeDep, incident_id: UUID) -> IncidentOut:
    return await service.get(runtime.sessions, incident_id)


@router.post(
    "/incidents/{incident_id}/declare",
    status_code=201,
    summary="Declare a breach from an incident (scope, detected_at pre-filled; aware_at now)",
)
async def declare(
    body: IncidentDeclarationIn, principal: Security, runtime: RuntimeDep, incident_id: UUID
) -> DeclaredOut:
    return await service.declare(
        runtime.sessions, runtime.clock, incident_id, body, actor=principal.sub
    )


@router.post(
    "/incidents/{incident_id}/dismiss",
    summary="Dismiss an incident as no breach, with the reason (kept: GDPR Art. 33(5))",
)
async def dismiss(
    body: DismissalIn, principal: Security, runtime: RuntimeDep, incident_id: UUID
) -> IncidentOut:
    return await service.dismiss(
        runtime.sessions, runtime.clock, incident_id, body, actor=principal.sub
    )
