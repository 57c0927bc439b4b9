"""Bounces: a delivery status notification turns an accepted notice into a failed one."""

from dataclasses import dataclass
from datetime import datetime

from services.notifier import dsn, repository
from services.notifier.domain import Outcome, Reason, State
from services.notifier.exceptions import NoticeNotFound, NoticeStillSending
from services.notifier.service.events import outcome_event
from shared.db import Sessions, transaction
from shared.outbox import stage_many


@dataclass(frozen=True)
class BounceResult:
    notice_id: str
    message_id: str
    effect: str
    """``bounced`` (the notice is now failed), ``already`` (it was failed before), or
    ``noted`` (the DSN reports no failure: delayed, delivered, relayed, expanded)."""
    action: str
    status: str
    diagnostic: str | None


async def receive(sessions: Sessions, raw: bytes, *, at: datetime) -> BounceResult:
    """Apply one raw DSN; a repeated one changes nothing."""
    report = dsn.parse(raw)
    async with transaction(sessions) as session:
        row = await repository.delivery_by_message_id(session, report.message_id, lock=True)
        if row is None:
            raise NoticeNotFound(
                f"no notice was sent with Message-ID {report.message_id}", field="Message-ID"
            )
        result = BounceResult(
            notice_id=row["notice_id"],
            message_id=report.message_id,
            effect="noted",
            action=report.action,
            status=report.status,
            diagnostic=report.diagnostic,
        )
        if report.action != "failed":
            return result
        if row["state"] == State.CLAIMED:
            raise NoticeStillSending(
                "the notice's sending is not recorded yet; send the DSN again shortly",
                field="Message-ID",
            )
        if row["state"] != State.ACCEPTED:
            return BounceResult(**{**vars(result), "effect": "already"})
        detail = f"{report.status} {report.diagnostic or ''}".strip()
        await repository.mark_bounced(
            session, row["notice_id"], at=at, status=report.status, detail=detail
        )
        outcome = Outcome(
            notice_id=row["notice_id"],
            kind=row["kind"],
            user_id=row["user_id"],
            breach_id=row["breach_id"],
            organisation=row["organisation"],
            state=State.BOUNCED,
            at=at,
            message_id=row["message_id"],
            attempts=row["attempts"],
            uncertain=row["uncertain"],
            smtp_code=_code(report.diagnostic),
            smtp_reply=report.diagnostic,
            queue_id=row["queue_id"],
            reason=Reason.BOUNCED,
            detail=detail,
        )
        await stage_many(session, [outcome_event(outcome)])
        return BounceResult(**{**vars(result), "effect": "bounced"})


def _code(diagnostic: str | None) -> int | None:
    """The SMTP code in a ``Diagnostic-Code: smtp; 550 ...`` field, if there is one."""
    if not diagnostic:
        return None
    for token in diagnostic.replace(";", " ").split():
        if token.isdigit() and len(token) == 3:
            return int(token)
    return None
