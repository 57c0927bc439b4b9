"""What the service learns from events: each notice's outcome, and who the subjects are.

Every event is applied in one transaction with its inbox claim (``shared.kafka.claim``),
so a redelivered event changes nothing. Every outcome of a notice is kept as it came
(``outcomes``, append-only); the person's row shows the one that wins by its own time
(:func:`services.breach.domain.supersedes`), so outcomes arriving out of order leave the
same state as in order.
"""

from uuid import UUID

from services.breach import domain, repository
from services.breach.domain import NoticeState, Outcome
from services.breach.exceptions import InvalidNoticeId
from shared.db import Sessions, transaction
from shared.events import (
    NotificationDelivered,
    NotificationFailed,
    UserErased,
    UserRegistered,
    UserUpdated,
)
from shared.kafka import MalformedEvent, claim
from shared.logging import get_logger

log = get_logger(__name__)

BREACH_NOTICE = "breach_notice"


async def on_outcome(
    sessions: Sessions, event: NotificationDelivered | NotificationFailed, topic: str
) -> None:
    """Apply one notice outcome to the person it is about."""
    payload = event.payload
    failed = isinstance(event, NotificationFailed)
    async with transaction(sessions) as session:
        if not await claim(session, event, topic):
            return
        if payload.kind != BREACH_NOTICE:
            return  # another kind of notice travels the same path
        try:
            breach_text, user_id = domain.parse_notice_id(payload.notice_id)
            breach_id = UUID(breach_text)
        except (InvalidNoticeId, ValueError) as exc:
            raise MalformedEvent(
                f"notice_id: {payload.notice_id!r} names no breach notice"
            ) from exc
        row = await repository.affected_for_update(session, breach_id, user_id)
        if row is None:
            log.info("breach.outcome_for_unknown_notice", notice_id=payload.notice_id)
            return
        outcome = Outcome(failed=failed, at=payload.at, uncertain=payload.uncertain)
        applied = domain.supersedes(outcome, row.outcome_at, NoticeState(row.state))
        row.attempts = max(row.attempts, payload.attempts)
        if not failed and row.delivered_at is None:
            row.delivered_at = payload.at  # kept as evidence even when a bounce outranks it
        if applied:
            row.state = outcome.state.value
            row.outcome_at = payload.at
            if failed:
                row.failed_at = payload.at
                row.reason, row.detail = payload.reason, payload.detail
            else:
                row.delivered_at = payload.at
                row.reason = row.detail = None
            row.message_id = payload.message_id or row.message_id
            row.smtp_code, row.smtp_reply = payload.smtp_code, payload.smtp_reply
            row.queue_id = payload.queue_id or row.queue_id
        await repository.record_outcome(
            session,
            event_id=event.event_id,
            breach_id=breach_id,
            user_id=user_id,
            outcome="failed" if failed else "delivered",
            at=payload.at,
            applied=applied,
            payload=payload.model_dump(mode="json"),
        )


async def on_user_registered(sessions: Sessions, event: UserRegistered, topic: str) -> None:
    """Know a new subject and their country of residence."""
    async with transaction(sessions) as session:
        if await claim(session, event, topic):
            p = event.payload
            await repository.upsert_subject(session, p.user_id, p.country, event.occurred_at)


async def on_user_updated(sessions: Sessions, event: UserUpdated, topic: str) -> None:
    """Follow a subject who moved to another country."""
    p = event.payload
    async with transaction(sessions) as session:
        if await claim(session, event, topic) and p.country is not None:
            await repository.upsert_subject(session, p.user_id, p.country, event.occurred_at)


async def on_user_erased(sessions: Sessions, event: UserErased, topic: str) -> None:
    """Forget where an erased subject lived; they stay known as erased."""
    async with transaction(sessions) as session:
        if await claim(session, event, topic):
            await repository.erase_subject(session, event.payload.user_id, event.payload.erased_at)
