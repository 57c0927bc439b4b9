"""HTTP routes of the detection service: its incidents and the rule settings in force.

``security`` and ``auditor`` read; every other role gets 403, a call without a token 401.
Triage (declaring a breach from an incident, or dismissing it) is the breach service's.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.detection import service
from services.detection.bootstrap import DetectionRuntime
from services.detection.models import IncidentList, RulesOut
from shared.app import runtime_of
from shared.auth import Principal, Role, require

router = APIRouter(tags=["detection"])

Reader = Annotated[Principal, Depends(require(Role.SECURITY, Role.AUDITOR))]
RuntimeDep = Annotated[DetectionRuntime, Depends(runtime_of(DetectionRuntime))]


@router.get("/incidents", summary="Incidents detection opened, newest first, with their alerts")
async def list_incidents(
    _: Reader,
    runtime: RuntimeDep,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> IncidentList:
    rows = await service.incidents(runtime.sessions, open_only=open_only, limit=limit)
    return IncidentList(incidents=rows)


@router.get("/rules", summary="The rule settings in force for an organisation, or the defaults")
async def rules(
    _: Reader,
    runtime: RuntimeDep,
    organisation: Annotated[
        str | None, Query(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> RulesOut:
    return service.rules(runtime.watch, organisation)
