"""HTTP routes of the notifier service: delivery evidence and bounces.

Who may call what:
- ``security`` and ``auditor``: the deliveries of a breach, and their counts;
- ``platform``: ``POST /bounces``, for the mail system's pipe or webhook. A DSN names a
  notice and turns it into a failure, so it is the platform's own infrastructure that
  may hand one in, not a person's role.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from services.notifier.bootstrap import NotifierRuntime
from services.notifier.exceptions import BounceTooLarge
from services.notifier.models import BounceAnswer, Delivery, DeliveryPage, DeliverySummary
from services.notifier.service import bounces, evidence
from shared.app import SessionsDep, runtime_of
from shared.auth import Principal, Role, require

router = APIRouter(tags=["notifier"])

Evidence = Annotated[Principal, Depends(require(Role.SECURITY, Role.AUDITOR))]
Platform = Annotated[Principal, Depends(require(Role.PLATFORM))]
RuntimeDep = Annotated[NotifierRuntime, Depends(runtime_of(NotifierRuntime))]
BreachId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


@router.get(
    "/breaches/{breach_id}/deliveries",
    summary="The notices of a breach: state, attempts, times, reply, Message-ID",
)
async def breach_deliveries(
    _: Evidence,
    sessions: SessionsDep,
    breach_id: BreachId,
    after: Annotated[
        str | None,
        Query(max_length=500, pattern=r"^[\x21-\x7e]+$", description="`next_after` of a page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryPage:
    rows = await evidence.page(sessions, breach_id, after=after, limit=limit)
    items = [Delivery.model_validate(row) for row in rows]
    return DeliveryPage(
        items=items, next_after=items[-1].notice_id if len(items) == limit else None
    )


@router.get(
    "/breaches/{breach_id}/deliveries/summary",
    summary="How many notices of a breach are in each state, and how many are uncertain",
)
async def breach_summary(
    _: Evidence, sessions: SessionsDep, breach_id: BreachId
) -> DeliverySummary:
    return DeliverySummary(breach_id=breach_id, **await evidence.summary(sessions, breach_id))


@router.post(
    "/bounces",
    summary="Hand in a delivery status notification (RFC 3464), as raw bytes",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
)
async def receive_bounce(_: Platform, request: Request, runtime: RuntimeDep) -> BounceAnswer:
    limit = runtime.settings.max_bounce_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BounceTooLarge(f"a DSN may be at most {limit} bytes", field="body")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise BounceTooLarge(f"a DSN may be at most {limit} bytes", field="body")
    result = await bounces.receive(
        runtime.sessions,
        bytes(raw),
        at=runtime.clock(),
    )
    return BounceAnswer(**vars(result))
