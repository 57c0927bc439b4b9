"""Use cases of recipient notices: record what a person did, ask the recipients (after a
settle delay, and once more later), record outcomes and answers, escalate the silent.

``data.accessed`` and ``user.*`` are different topics, so the audit may hear of an
erasure before the last disclosures that preceded it. A trigger is therefore looked up
twice, on the service's clock: ``recipients_settle_seconds`` after it arrived (the first
look-up), and ``recipients_recheck_seconds`` after (the last); the second asks only the
organisations the first missed. Disclosures that reach the log later still are not
asked about (docs/recipients.md says so).
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.exceptions import NotFound
from services.audit.recipients import domain, repository
from services.audit.recipients.domain import Answer
from services.audit.recipients.exceptions import AlreadyAnswered
from services.audit.recipients.models import (
    RecipientNotice,
    RecipientRequestOut,
    RecipientRequestPage,
)
from services.audit.recipients.repository import RequestFilters, Trigger
from services.audit.recipients.settings import RecipientSettings
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import (
    NotificationDelivered,
    NotificationFailed,
    RecipientAction,
    RecipientEscalatedPayload,
    RecipientNotificationRequested,
    RecipientNotificationRequestedPayload,
    RecipientRequestEscalated,
    UserErased,
    UserRestrictionChanged,
    UserUpdated,
)
from shared.logging import get_logger
from shared.outbox import stage

log = get_logger(__name__)
PRODUCER = "audit"

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


async def sweep(sessions: Sessions, clock: Clock, settings: RecipientSettings) -> int:
    """Make the requests of every trigger whose look-up is due; returns how many."""
    now = await clock.now()
    made = 0
    async with transaction(sessions) as session:
        for trigger, pass_ in await repository.due(session, now, settings.recipients_batch):
            count = await _ask(session, trigger, now, settings)
            await repository.add_sweep(session, trigger.event_id, pass_, now, count)
            log.info(
                "recipients.looked_up", event_id=str(trigger.event_id), pass_=pass_, asked=count
            )
            made += count
    return made


async def _ask(session: AsyncSession, trigger: Trigger, now: datetime, s: RecipientSettings) -> int:
    action = RecipientAction(trigger.action)
    received = await repository.received(session, trigger.user_id, trigger.occurred_at)
    respond_by = now + timedelta(days=s.recipients_respond_days)
    made = 0
    for recipient in domain.recipients(received, action, trigger.categories or ()):
        key = domain.request_key(action, trigger.user_id, trigger.event_id, recipient.organisation)
        request_id = domain.request_id(key)
        row = {
            "request_id": request_id,
            "request_key": key,
            "trigger_event_id": trigger.event_id,
            "user_id": trigger.user_id,
            "organisation": recipient.organisation,
            "action": action.value,
            "data_categories": list(recipient.categories),
            "last_received_at": recipient.last_received_at,
            "requested_at": trigger.occurred_at,
            "created_at": now,
            "respond_by": respond_by,
        }
        if not await repository.add_request(session, row):
            continue
        payload = RecipientNotificationRequestedPayload(
            notice_id=domain.notice_id(request_id),
            request_id=str(request_id),
            organisation=recipient.organisation,
            user_id=trigger.user_id,
            action=action,
            data_categories=list(recipient.categories),
            last_received_at=recipient.last_received_at,
            requested_at=trigger.occurred_at,
            respond_by=respond_by,
        )
        stage(
            session,
            RecipientNotificationRequested.create(
                producer=PRODUCER, subject_id=trigger.user_id, payload=payload
            ),
        )
        log.info(
            "recipients.requested",
            request_id=str(request_id),
            organisation=recipient.organisation,
            action=action.value,
        )
        made += 1
    return made


async def escalate(sessions: Sessions, clock: Clock, batch: int) -> int:
    """Escalate, once each, the unanswered requests past their time; returns how many."""
    now = await clock.now()
    count = 0
    async with transaction(sessions) as session:
        for row in await repository.overdue(session, now, batch):
            if not await repository.add_escalation(session, row["request_id"], now):
                continue
            payload = RecipientEscalatedPayload(
                request_id=str(row["request_id"]),
                organisation=row["organisation"],
                user_id=row["user_id"],
                action=RecipientAction(row["action"]),
                requested_at=row["requested_at"],
                respond_by=row["respond_by"],
                escalated_at=now,
            )
            stage(
                session,
                RecipientRequestEscalated.create(
                    producer=PRODUCER, subject_id=row["user_id"], payload=payload
                ),
            )
            log.warning(
                "recipients.escalated",
                request_id=str(row["request_id"]),
                organisation=row["organisation"],
            )
            count += 1
    return count


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
