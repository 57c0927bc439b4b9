"""The outcome events of notices, and recording outcomes in a caller's transaction."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier import repository
from services.notifier.domain import Outcome, State
from shared.events import (
    Envelope,
    NotificationDelivered,
    NotificationFailed,
    NotificationOutcomePayload,
)
from shared.outbox import stage_many

PRODUCER = "notifier"


def outcome_event(outcome: Outcome) -> Envelope:
    """``notification.delivered`` or ``notification.failed`` for an outcome."""
    payload = NotificationOutcomePayload(
        notice_id=outcome.notice_id,
        kind=outcome.kind,
        breach_id=outcome.breach_id,
        user_id=outcome.user_id,
        organisation=outcome.organisation,
        at=outcome.at,
        message_id=outcome.message_id,
        attempts=outcome.attempts,
        uncertain=outcome.uncertain,
        smtp_code=outcome.smtp_code,
        smtp_reply=outcome.smtp_reply,
        queue_id=outcome.queue_id,
        reason=outcome.reason.value if outcome.reason else None,
        detail=outcome.detail,
    )
    kind = NotificationDelivered if outcome.state is State.ACCEPTED else NotificationFailed
    return kind.create(
        producer=PRODUCER, subject_id=outcome.user_id or outcome.notice_id, payload=payload
    )


async def write_outcomes(session: AsyncSession, outcomes: Sequence[Outcome]) -> None:
    """Record ``outcomes`` in the caller's transaction, with their events."""
    written = set(await repository.record(session, outcomes))
    evs = [outcome_event(o) for o in outcomes if o.notice_id in written]
    await stage_many(session, evs)
