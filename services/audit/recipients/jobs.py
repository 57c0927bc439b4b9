"""The recipient notices' jobs: ask the recipients of what has settled, escalate the silent.

``data.accessed`` and ``user.*`` are different topics, so the audit may hear of an
erasure before the last disclosures that preceded it. A trigger is therefore looked up
twice, on the service's clock: ``recipients_settle_seconds`` after it arrived (the first
look-up), and ``recipients_recheck_seconds`` after (the last); the second asks only the
organisations the first missed. Disclosures that reach the log later still are not
asked about (docs/recipients.md says so).

The tables are append-only, so nothing is marked done: a tick finds its work by what was
not recorded yet. So that a tick does not read every trigger and request ever made, it
looks back only ``recipients_catch_up_seconds`` past the last due time; the first tick
after a start (``full``) looks at everything, for what came due while the service was
down.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.recipients import domain, repository
from services.audit.recipients.repository import Trigger
from services.audit.recipients.settings import RecipientSettings
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import (
    RecipientAction,
    RecipientEscalatedPayload,
    RecipientNotificationRequested,
    RecipientNotificationRequestedPayload,
    RecipientRequestEscalated,
)
from shared.logging import get_logger
from shared.outbox import stage

log = get_logger(__name__)
PRODUCER = "audit"
MAX_ROUNDS = 1000
"""Batches a job does in one tick, at most (a catch-up after a long stop may need many)."""


async def sweep(
    sessions: Sessions, clock: Clock, settings: RecipientSettings, *, full: bool = False
) -> int:
    """Make the requests of every trigger whose look-up is due; returns how many."""
    now = await clock.now()
    back = settings.recipients_recheck_seconds + settings.recipients_catch_up_seconds
    since = None if full else now - timedelta(seconds=back)
    made = 0
    for _ in range(MAX_ROUNDS):
        async with transaction(sessions) as session:
            due = await repository.due(session, now, settings.recipients_batch, since=since)
            for trigger, pass_ in due:
                count = await _ask(session, trigger, now, settings)
                await repository.add_sweep(session, trigger.event_id, pass_, now, count)
                log.info(
                    "recipients.looked_up",
                    event_id=str(trigger.event_id),
                    pass_=pass_,
                    asked=count,
                )
                made += count
        if not due:  # not "fewer than a batch": a first look-up may make a final one due
            break
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


async def escalate(
    sessions: Sessions, clock: Clock, settings: RecipientSettings, *, full: bool = False
) -> int:
    """Escalate, once each, the unanswered requests past their time; returns how many."""
    now = await clock.now()
    since = None if full else now - timedelta(seconds=settings.recipients_catch_up_seconds)
    count = 0
    for _ in range(MAX_ROUNDS):
        async with transaction(sessions) as session:
            late = await repository.overdue(session, now, settings.recipients_batch, since=since)
            count += await _escalate(session, late, now)
        if len(late) < settings.recipients_batch:
            break
    return count


async def _escalate(session: AsyncSession, late: list[dict[str, Any]], now: datetime) -> int:
    count = 0
    for row in late:
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
