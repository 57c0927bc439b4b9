"""Use cases of recipient notices: record what a person did (the look-ups and the
escalations are the jobs', ``jobs.py``), the notifier's outcomes and the recipients'
answers, and read requests back."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from services.audit.exceptions import NotFound
from services.audit.recipients import domain, repository
from services.audit.recipients.domain import Answer
from services.audit.recipients.exceptions import AlreadyAnswered
from services.audit.recipients.models import (
    RecipientNotice,
    RecipientRequestOut,
    RecipientRequestPage,
)
from services.audit.recipients.repository import RequestFilters
from services.audit.recipients.settings import RecipientSettings
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import (
    NotificationDelivered,
    NotificationFailed,
    RecipientAction,
    UserErased,
    UserRestrictionChanged,
    UserUpdated,
)
from shared.logging import get_logger

log = get_logger(__name__)

UserEvent = UserErased | UserUpdated | UserRestrictionChanged


async def record(
    sessions: Sessions, clock: Clock, settings: RecipientSettings, event: UserEvent
) -> bool:
    """Remember what the person did, to look up its recipients once it has settled;
    False when the event was recorded before (a redelivery)."""
    now = await clock.now()
    restricted = objected = None
    categories: list[str] | None = None
    async with transaction(sessions) as session:
        if isinstance(event, UserErased):
            action = RecipientAction.ERASE.value
        elif isinstance(event, UserUpdated):
            categories = sorted(set(event.payload.changed_fields))
            action = RecipientAction.RECTIFY.value if categories else domain.NONE
        else:
            restricted, objected = event.payload.restricted, event.payload.objected
            before = await repository.restriction_before(
                session, event.payload.user_id, event.occurred_at
            )
            action = domain.restriction_action(restricted, objected, before)
        added = await repository.add_trigger(
            session,
            {
                "event_id": event.event_id,
                "user_id": event.payload.user_id,
                "action": action,
                "categories": categories,
                "restricted": restricted,
                "objected": objected,
                "occurred_at": event.occurred_at,
                "received_at": now,
                "settle_at": now + timedelta(seconds=settings.recipients_settle_seconds),
                "recheck_at": now + timedelta(seconds=settings.recipients_recheck_seconds),
            },
        )
    if added:
        log.info("recipients.trigger_recorded", event_id=str(event.event_id), action=action)
    return added


async def record_outcomes(
    sessions: Sessions, outcomes: Sequence[NotificationDelivered | NotificationFailed]
) -> int:
    """Record the notifier's outcomes of recipient notices (``notice_id`` already parsed
    by the caller); outcomes of requests this service did not make are left alone."""
    by_request = [(domain.parse_notice_id(o.payload.notice_id), o) for o in outcomes]
    added = 0
    async with transaction(sessions) as session:
        known = await repository.known_requests(session, [r for r, _ in by_request])
        for request_id, outcome in by_request:
            if request_id not in known:
                log.info("recipients.outcome_for_unknown_request", request_id=str(request_id))
                continue
            added += await repository.add_outcome(
                session,
                {
                    "event_id": outcome.event_id,
                    "request_id": request_id,
                    "outcome": "failed" if isinstance(outcome, NotificationFailed) else "delivered",
                    "at": outcome.payload.at,
                    "reason": outcome.payload.reason,
                    "detail": outcome.payload.detail,
                    "message_id": outcome.payload.message_id,
                },
            )
    return added


def _out(row: dict[str, Any], now: datetime) -> RecipientRequestOut:
    fields = {k: v for k, v in row.items() if k not in ("seq", "delivery")}
    return RecipientRequestOut(
        **fields,
        state=domain.state_of(row["answer"], row["respond_by"], now),
        delivery=row["delivery"] or "pending",
    )


async def get(
    sessions: Sessions, clock: Clock, request_id: uuid.UUID, *, organisation: str | None = None
) -> RecipientRequestOut:
    """One request; with ``organisation``, only if it is that organisation's (else it is
    not found, as if it did not exist)."""
    async with sessions() as session:
        row = await repository.get(session, request_id)
    if row is None or (organisation is not None and row["organisation"] != organisation):
        raise NotFound(f"no recipient request {request_id}", field="request_id")
    return _out(row, await clock.now())


async def page(
    sessions: Sessions,
    clock: Clock,
    filters: RequestFilters,
    *,
    after: int | None,
    limit: int,
) -> RecipientRequestPage:
    """A page of requests matching ``filters``: a full page points at the next one."""
    now = await clock.now()
    async with sessions() as session:
        rows = await repository.page(session, filters, now=now, after=after, limit=limit)
    return RecipientRequestPage(
        items=[_out(row, now) for row in rows],
        next_cursor=int(rows[-1]["seq"]) if len(rows) == limit else None,
    )


async def answer(
    sessions: Sessions,
    clock: Clock,
    request_id: uuid.UUID,
    *,
    organisation: str,
    answer: Answer,
    reference: str | None,
    actor: str,
) -> RecipientRequestOut:
    """Record the organisation's answer to its own request: done, or kept under the
    person's independent authorisation (``reference``). A request is answered once."""
    now = await clock.now()
    async with transaction(sessions) as session:
        row = await repository.get(session, request_id)
        if row is None or row["organisation"] != organisation:
            raise NotFound(f"no recipient request {request_id}", field="request_id")
        added = await repository.add_answer(
            session,
            {
                "request_id": request_id,
                "answer": answer.value,
                "reference": reference,
                "answered_by": actor,
                "answered_at": now,
            },
        )
        if not added:
            raise AlreadyAnswered(
                f"recipient request {request_id} was answered already",
                field="request_id",
                extra={"answer": row["answer"]},
            )
    log.info("recipients.answered", request_id=str(request_id), answer=answer.value)
    return await get(sessions, clock, request_id)


async def notices_of(sessions: Sessions, clock: Clock, user_id: str) -> list[RecipientNotice]:
    """Every request made about the person, oldest first, as their report shows it."""
    now = await clock.now()
    notices: list[RecipientNotice] = []
    after: int | None = None
    async with sessions() as session:
        for _ in range(100):  # bounded: 100,000 notices about one person is past any real case
            rows = await repository.page(
                session, RequestFilters(user_id=user_id), now=now, after=after, limit=1000
            )
            for row in rows:
                out = _out(row, now)
                notices.append(
                    RecipientNotice(
                        organisation=out.organisation,
                        action=out.action,
                        data_categories=out.data_categories,
                        requested_at=out.requested_at,
                        told_at=out.created_at,
                        delivery=out.delivery,
                        delivered_at=out.delivery_at if out.delivery == "delivered" else None,
                        state=out.state,
                        answered_at=out.answered_at,
                        reference=out.reference,
                    )
                )
            if len(rows) < 1000:
                break
            after = int(rows[-1]["seq"])
    return notices
