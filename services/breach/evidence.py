"""What the service learns from events: each notice's outcome, and who the subjects are.

Every event is applied in one transaction with its inbox claim, so a redelivered event
changes nothing; outcomes come a batch to a transaction, claimed together. Every outcome
of a notice is kept as it came (``outcomes``, append-only); the person's row shows the
one that wins by its own time (:func:`services.breach.domain.supersedes`), so outcomes
arriving out of order leave the same state as in order.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.breach import bulk, domain, repository
from services.breach.domain import NoticeState, Outcome
from services.breach.exceptions import InvalidNoticeId
from services.breach.models import AffectedRow
from shared.db import Sessions, transaction
from shared.events import (
    NotificationDelivered,
    NotificationFailed,
    NotificationOutcomePayload,
    SmtpRecovered,
    SmtpUnavailable,
    UserErased,
    UserRegistered,
    UserUpdated,
)
from shared.kafka import MalformedEvent, claim
from shared.logging import get_logger

log = get_logger(__name__)

BREACH_NOTICE = "breach_notice"


@dataclass(frozen=True)
class Reported:
    """One outcome event, read from its topic."""

    event: NotificationDelivered | NotificationFailed
    topic: str

    @property
    def failed(self) -> bool:
        """Whether it reports a failure (or a bounce)."""
        return isinstance(self.event, NotificationFailed)


def _person(payload: NotificationOutcomePayload) -> tuple[UUID, str]:
    try:
        breach_text, user_id = domain.parse_notice_id(payload.notice_id)
        return UUID(breach_text), user_id
    except (InvalidNoticeId, ValueError) as exc:
        raise MalformedEvent(f"notice_id: {payload.notice_id!r} names no breach notice") from exc


def check(event: NotificationDelivered | NotificationFailed) -> None:
    """Raise MalformedEvent when a breach notice's outcome names no breach notice."""
    if event.payload.kind == BREACH_NOTICE:
        _person(event.payload)


async def on_outcomes(sessions: Sessions, batch: list[Reported]) -> int:
    """Apply a batch of notice outcomes in one transaction; returns how many were new.

    Outcomes of other kinds of notice (the notifier sends more than breach notices) and
    of notices this service never asked for are claimed and left alone.
    """
    async with transaction(sessions) as session:
        fresh = await bulk.claim_many(session, [(r.event.event_id, r.topic) for r in batch])
        mine = [
            (r, *_person(r.event.payload))
            for r in batch
            if r.event.event_id in fresh and r.event.payload.kind == BREACH_NOTICE
        ]
        rows = await bulk.affected_for_update_many(session, [(b, u) for _, b, u in mine])
        kept: list[dict[str, object]] = []
        changed: dict[tuple[UUID, str], AffectedRow] = {}
        unknown: list[str] = []
        # In time order, so a batch holding an acceptance and its bounce ends as one would.
        for reported, breach_id, user_id in sorted(mine, key=lambda m: m[0].event.payload.at):
            row = rows.get((breach_id, user_id))
            if row is None:
                unknown.append(reported.event.payload.notice_id)
                continue
            applied = apply(row, reported.event.payload, failed=reported.failed)
            changed[(breach_id, user_id)] = row  # attempts and delivered_at change even so
            kept.append(
                {
                    "event_id": reported.event.event_id,
                    "breach_id": breach_id,
                    "user_id": user_id,
                    "outcome": "failed" if reported.failed else "delivered",
                    "at": reported.event.payload.at,
                    "applied": applied,
                    "payload": reported.event.payload.model_dump(mode="json"),
                }
            )
        if unknown:  # one line a batch: a fresh schema may read thousands of others' outcomes
            log.info("breach.outcomes_for_unknown_notices", count=len(unknown), first=unknown[0])
        await bulk.save_outcomes(session, list(changed.values()))
        await bulk.record_outcomes(session, kept)
    return len(fresh)


def apply(row: AffectedRow, payload: NotificationOutcomePayload, *, failed: bool) -> bool:
    """Apply one outcome to a person's row; False when a later outcome already stands."""
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
    return applied


async def on_subjects(
    sessions: Sessions, batch: Sequence[tuple[UserRegistered | UserUpdated, str]]
) -> int:
    """Know new subjects and follow the ones who moved, a batch to a transaction; returns
    how many events were new.

    100,000 people registering are 100,000 events: with a transaction each, a fresh
    schema reading a topic's history lagged by minutes (a test gave up after 30 s on
    11,000). Within a batch the country with the
    latest event time is the one written, as it would have been one event at a time.
    """
    async with transaction(sessions) as session:
        fresh = await bulk.claim_many(session, [(e.event_id, topic) for e, topic in batch])
        latest: dict[str, tuple[str, datetime]] = {}
        for event, _ in batch:
            country = event.payload.country
            if event.event_id not in fresh or country is None:
                continue  # a redelivery, or a change that left the country alone
            seen = latest.get(event.payload.user_id)
            if seen is None or seen[1] < event.occurred_at:
                latest[event.payload.user_id] = (country, event.occurred_at)
        await bulk.upsert_subjects(session, latest)
    return len(fresh)


async def on_user_erased(sessions: Sessions, event: UserErased, topic: str) -> None:
    """Forget where an erased subject lived; they stay known as erased."""
    async with transaction(sessions) as session:
        if await claim(session, event, topic):
            await repository.erase_subject(session, event.payload.user_id, event.payload.erased_at)


async def on_mail_server(
    sessions: Sessions, event: SmtpUnavailable | SmtpRecovered, topic: str
) -> None:
    """Show the notifier's mail server outage on every open breach: its state on the
    breach, and its beginning and end on each one's timeline."""
    async with transaction(sessions) as session:
        if not await claim(session, event, topic):
            return
        p = event.payload
        detail: dict[str, object]
        if isinstance(event, SmtpUnavailable):
            at, action = event.payload.since, "mail_server_unavailable"
            detail = {"server": p.server, "since": p.since.isoformat(), "reason": p.reason}
            newest = await repository.set_mail_server(
                session, p.server, down_since=p.since, reason=p.reason, at=at
            )
        else:
            r = event.payload
            at, action = r.at, "mail_server_recovered"
            detail = {
                "server": r.server,
                "since": r.since.isoformat(),
                "at": r.at.isoformat(),
                "down_seconds": round(r.down_seconds, 1),
                "reason": r.reason,
            }
            newest = await repository.set_mail_server(
                session, r.server, down_since=None, reason=None, at=at
            )
        for breach in await repository.open_breaches(session):
            repository.add_timeline(
                session, breach.breach_id, at=at, actor="notifier", action=action, detail=detail
            )
        log.warning("breach.mail_server", action=action, current=newest, **detail)
