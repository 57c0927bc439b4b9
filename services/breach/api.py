"""HTTP routes of the breach service.

``security`` acts (declares, widens the scope, sends failed notices again, records the
announcement and the regulator decision, closes); ``security`` and ``auditor`` read;
every other role gets 403, a call without a token 401.
"""

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import TypeAdapter, ValidationError

from services.breach import duties, queries, records, report, service
from services.breach.bootstrap import BreachRuntime
from services.breach.exceptions import InvalidCursor
from services.breach.models import (
    AnnouncementIn,
    AssessmentIn,
    BreachList,
    BreachOut,
    DecisionIn,
    DeclarationIn,
    ObligationsOut,
    PeoplePage,
    RegulatorNoticeIn,
    ResendIn,
    ResendOut,
    Scope,
    ScopeOut,
    TimelineOut,
)
from shared.app import runtime_of
from shared.auth import Principal, Role, require
from shared.validation import Instant

router = APIRouter(tags=["breach"])

Security = Annotated[Principal, Depends(require(Role.SECURITY))]
Reader = Annotated[Principal, Depends(require(Role.SECURITY, Role.AUDITOR))]
RuntimeDep = Annotated[BreachRuntime, Depends(runtime_of(BreachRuntime))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e]{1,200}$",
        description="A retried declaration with the same key returns the first breach; "
        "the same key with a different body is refused with 409.",
    ),
]
After = Annotated[
    str | None,
    Query(pattern=r"^[^\s\x00]{1,128}$", description="The `next_after` of the previous page."),
]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post(
    "/breaches",
    status_code=201,
    summary="Declare a breach (a retry with the same Idempotency-Key returns the first one)",
    responses={200: {"model": BreachOut, "description": "A retry: the first breach."}},
)
async def declare(
    body: DeclarationIn,
    principal: Security,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> BreachOut:
    breach, created = await service.declare(
        runtime.sessions,
        runtime.clock,
        body,
        key=idempotency_key,
        actor=principal.sub,
    )
    if not created:
        response.status_code = 200
    return breach


_INSTANT = TypeAdapter(Instant)


def _cursor(breach: tuple[datetime, UUID]) -> str:
    raw = f"{breach[0].isoformat()}|{breach[1]}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str) -> tuple[datetime, UUID]:
    try:
        at, _, breach_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return _INSTANT.validate_python(datetime.fromisoformat(at)), UUID(breach_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, ValidationError):
        raise InvalidCursor("not a cursor this service gave out", field="query.after") from None


@router.get("/breaches", summary="Breaches, newest first, with the time left on each clock")
async def list_breaches(
    _: Reader,
    runtime: RuntimeDep,
    status: Literal["open", "closed"] | None = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> BreachList:
    rows = await queries.list_breaches(
        runtime.sessions,
        runtime.clock,
        open_only=None if status is None else status == "open",
        after=_decode(after) if after else None,
        limit=limit,
    )
    last = rows[-1] if len(rows) == limit else None
    return BreachList(
        breaches=rows, next_after=_cursor((last.aware_at, last.breach_id)) if last else None
    )


@router.get("/breaches/{breach_id}", summary="One breach: counts, time left, decisions")
async def get_breach(breach_id: UUID, _: Reader, runtime: RuntimeDep) -> BreachOut:
    return await queries.get(runtime.sessions, runtime.clock, breach_id)


@router.post(
    "/breaches/{breach_id}/scopes",
    status_code=201,
    summary="Widen the scope: new people get notices, nobody a second one",
)
async def add_scope(
    breach_id: UUID, scope: Scope, principal: Security, runtime: RuntimeDep
) -> ScopeOut:
    return await service.add_scope(
        runtime.sessions, runtime.clock, breach_id, scope, actor=principal.sub
    )


@router.get("/breaches/{breach_id}/scopes", summary="The scopes and how far each is resolved")
async def scopes(breach_id: UUID, _: Reader, runtime: RuntimeDep) -> list[ScopeOut]:
    return await queries.scopes(runtime.sessions, breach_id)


@router.get("/breaches/{breach_id}/people", summary="Each person's evidence, a page at a time")
async def people(
    breach_id: UUID, _: Reader, runtime: RuntimeDep, after: After = None, limit: Limit = 100
) -> PeoplePage:
    page, next_after = await queries.people(
        runtime.sessions, breach_id, unnotified=False, after=after, limit=limit
    )
    return PeoplePage(people=page, next_after=next_after)


@router.get(
    "/breaches/{breach_id}/people.csv",
    summary="Each person's evidence as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def people_csv(breach_id: UUID, _: Reader, runtime: RuntimeDep) -> StreamingResponse:
    rows = await report.people_csv(runtime.sessions, breach_id)
    return StreamingResponse(
        rows,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="breach-{breach_id}-people.csv"'},
    )


@router.get(
    "/breaches/{breach_id}/unnotified",
    summary="People neither notified nor covered by an announcement",
)
async def unnotified(
    breach_id: UUID, _: Reader, runtime: RuntimeDep, after: After = None, limit: Limit = 100
) -> PeoplePage:
    page, next_after = await queries.people(
        runtime.sessions, breach_id, unnotified=True, after=after, limit=limit
    )
    return PeoplePage(people=page, next_after=next_after)


@router.post(
    "/breaches/{breach_id}/announcement",
    status_code=201,
    summary="Record the public announcement that covers people who cannot be reached",
)
async def announce(
    breach_id: UUID, body: AnnouncementIn, principal: Security, runtime: RuntimeDep
) -> BreachOut:
    return await service.record_announcement(
        runtime.sessions, runtime.clock, breach_id, body, actor=principal.sub
    )


@router.post(
    "/breaches/{breach_id}/regulator-decision",
    status_code=201,
    summary="Record whether the supervisory authority is told, and why (Art. 33(5))",
)
async def decide(
    breach_id: UUID, body: DecisionIn, principal: Security, runtime: RuntimeDep
) -> BreachOut:
    return await service.record_decision(
        runtime.sessions, runtime.clock, breach_id, body, actor=principal.sub
    )


@router.post(
    "/breaches/{breach_id}/close",
    summary="Close the breach; 409 naming what is missing until everyone is covered",
)
async def close(breach_id: UUID, principal: Security, runtime: RuntimeDep) -> BreachOut:
    return await service.close(runtime.sessions, runtime.clock, breach_id, actor=principal.sub)


@router.post(
    "/breaches/{breach_id}/resend",
    summary="Send failed notices again: every temporary failure, or the people named",
)
async def resend(
    breach_id: UUID,
    principal: Security,
    runtime: RuntimeDep,
    body: Annotated[ResendIn | None, Body()] = None,
) -> ResendOut:
    return await service.resend(
        runtime.sessions,
        runtime.clock,
        breach_id,
        body or ResendIn(),
        actor=principal.sub,
        duty=runtime.duty,
    )


@router.get("/breaches/{breach_id}/timeline", summary="Every change, oldest first (append-only)")
async def timeline(breach_id: UUID, _: Reader, runtime: RuntimeDep) -> list[TimelineOut]:
    return [TimelineOut(**e) for e in await queries.timeline(runtime.sessions, breach_id)]


@router.get(
    "/breaches/{breach_id}/report",
    summary="The record for the supervisory authority (GDPR Art. 33(3), 33(5)), as JSON",
)
async def regulator_record(breach_id: UUID, _: Reader, runtime: RuntimeDep) -> dict[str, object]:
    return await report.record(runtime.sessions, runtime.clock, breach_id)


@router.get(
    "/breaches/{breach_id}/report.html",
    response_class=HTMLResponse,
    summary="The record for the supervisory authority, as a page that prints",
)
async def regulator_page(breach_id: UUID, _: Reader, runtime: RuntimeDep) -> HTMLResponse:
    return HTMLResponse(
        report.html(await report.record(runtime.sessions, runtime.clock, breach_id)),
        headers={"Content-Security-Policy": report.REPORT_POLICY},
    )


# --- Obligations under the regimes ------------------------------------------------------

Regime = Annotated[
    str,
    Path(
        pattern=r"^[a-z][a-z0-9_]{1,15}$",
        description="A regime's id (`sg`, `eu`, ...).",
        examples=["sg"],
    ),
]


@router.get(
    "/breaches/{breach_id}/obligations",
    summary="What the breach owes each regulator and its people, regime by regime, with "
    "anchors, deadlines, states and the disclaimer",
)
async def obligations(breach_id: UUID, _: Reader, runtime: RuntimeDep) -> ObligationsOut:
    return await duties.view(runtime.sessions, runtime.clock, runtime.duty, breach_id)


@router.post(
    "/breaches/{breach_id}/assessments",
    status_code=201,
    summary="Record the risk assessment's conclusion (kept on file); obligations re-derived",
)
async def assess(
    breach_id: UUID, body: AssessmentIn, principal: Security, runtime: RuntimeDep
) -> ObligationsOut:
    return await duties.record_assessment(
        runtime.sessions, runtime.clock, runtime.duty, breach_id, body, actor=principal.sub
    )


@router.post(
    "/breaches/{breach_id}/obligations/{regime}/regulator",
    status_code=201,
    summary="Record that a regime's regulator was told: the obligation is met, or late",
)
async def regulator_told(
    breach_id: UUID,
    regime: Regime,
    body: RegulatorNoticeIn,
    principal: Security,
    runtime: RuntimeDep,
) -> ObligationsOut:
    return await duties.record_regulator_notice(
        runtime.sessions,
        runtime.clock,
        runtime.duty,
        breach_id,
        regime,
        body,
        actor=principal.sub,
    )


@router.get(
    "/breaches/{breach_id}/records/{regime}.html",
    response_class=HTMLResponse,
    summary="One regulator's record, as a page that prints",
)
async def regime_record_page(
    breach_id: UUID, regime: Regime, _: Reader, runtime: RuntimeDep
) -> HTMLResponse:
    record = await records.record(runtime.sessions, runtime.clock, runtime.duty, breach_id, regime)
    return HTMLResponse(records.html(record))


@router.get(
    "/breaches/{breach_id}/records/{regime}.pdf",
    response_class=Response,
    summary="One regulator's record, as PDF",
    responses={200: {"content": {"application/pdf": {}}}},
)
async def regime_record_pdf(
    breach_id: UUID, regime: Regime, _: Reader, runtime: RuntimeDep
) -> Response:
    record = await records.record(runtime.sessions, runtime.clock, runtime.duty, breach_id, regime)
    return Response(
        records.pdf(record),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="breach-{breach_id}-{regime}.pdf"'},
    )


@router.get(
    "/breaches/{breach_id}/records/{regime}",
    summary="One regulator's record, with every item its regime's row requires, as JSON",
)
async def regime_record(
    breach_id: UUID, regime: Regime, _: Reader, runtime: RuntimeDep
) -> dict[str, object]:
    return await records.record(runtime.sessions, runtime.clock, runtime.duty, breach_id, regime)
