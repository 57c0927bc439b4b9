"""Use cases of the breach service: declare, widen the scope, announce, decide, close.

Reading lives in ``queries.py``, resolution of scopes to people in ``resolution.py``,
the 72-hour clock's job in ``countdown.py``, the notifier's outcomes and the subjects
list in ``evidence.py``, the regulator's record in ``report.py``.
"""

import hashlib
import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.breach import domain, duties, queries, repository, resolution
from services.breach.exceptions import (
    BreachClosed,
    BreachNotFound,
    IdempotencyKeyReused,
    InvalidAnnouncement,
)
from services.breach.models import (
    AnnouncementIn,
    BreachOut,
    BreachRow,
    DecisionIn,
    DeclarationIn,
    ResendIn,
    ResendOut,
    Scope,
    ScopeOut,
    ScopeRow,
)
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import BreachDetected, BreachDetectedPayload
from shared.outbox import stage_many

PRODUCER = "breach"


def digest(body: DeclarationIn) -> str:
    """A fingerprint of a declaration as sent, to tell a retry from a different request."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def scope_row(breach_id: UUID, scope: Scope, *, actor: str, at: datetime) -> ScopeRow:
    """The stored form of one part of a scope."""
    spec = scope.model_dump(mode="json", exclude={"kind"}, exclude_none=True)
    return ScopeRow(breach_id=breach_id, kind=scope.kind, spec=spec, added_by=actor, created_at=at)


async def declare(
    sessions: Sessions,
    clock: Clock,
    body: DeclarationIn,
    *,
    key: str | None,
    actor: str,
) -> tuple[BreachOut, bool]:
    """Declare a breach; a retry with the same Idempotency-Key gets the first one back.

    Returns the breach and whether it was created by this call.
    """
    fingerprint = digest(body)
    if key is not None:
        first = await _first_with_key(sessions, clock, key, fingerprint)
        if first is not None:
            return first, False
    now = await clock.now()
    aware_at = body.aware_at or now
    domain.check_declaration(
        now=now,
        started_at=body.started_at,
        ended_at=body.ended_at,
        detected_at=body.detected_at,
        aware_at=aware_at,
    )
    breach_id = uuid4()
    try:
        async with transaction(sessions) as session:
            number = await repository.next_reference_number(session)
            row = BreachRow(
                breach_id=breach_id,
                reference=domain.reference(now.year, number),
                idempotency_key=key,
                request_digest=fingerprint if key else None,
                **body.model_dump(exclude={"scope", "aware_at", "kinds"}),
                kinds=[k.value for k in body.kinds],
                aware_at=aware_at,
                declared_by=actor,
                declared_at=now,
            )
            session.add(row)
            await session.flush()
            repository.add_timeline(
                session,
                breach_id,
                at=now,
                actor=actor,
                action="declared",
                detail={"reference": row.reference, "aware_at": aware_at.isoformat()},
            )
            for scope in body.scope:
                await _add_scope(session, breach_id, scope, actor=actor, at=now)
            await stage_many(
                session,
                [
                    BreachDetected.create(
                        producer=PRODUCER,
                        subject_id=str(breach_id),
                        payload=BreachDetectedPayload(
                            breach_id=str(breach_id),
                            reference=row.reference,
                            title=row.title,
                            kinds=body.kinds,
                            aware_at=aware_at,
                            deadline_at=domain.deadline_of(aware_at),
                            data_categories=row.data_categories,
                        ),
                    ),
                ],
            )
    except IntegrityError:
        # Two requests with one key raced; the other one's breach is the first one.
        if key is None:
            raise
        first = await _first_with_key(sessions, clock, key, fingerprint)
        if first is None:
            raise
        return first, False
    return await queries.get(sessions, clock, breach_id), True


async def _first_with_key(
    sessions: Sessions, clock: Clock, key: str, fingerprint: str
) -> BreachOut | None:
    async with sessions() as session:
        first = await repository.breach_by_key(session, key)
    if first is None:
        return None
    if first.request_digest != fingerprint:
        raise IdempotencyKeyReused(
            f"the Idempotency-Key was first used for a different declaration "
            f"({first.reference}); use a new key for a new breach",
            field="header.idempotency-key",
            extra={"breach_id": str(first.breach_id), "reference": first.reference},
        )
    return await queries.get(sessions, clock, first.breach_id)


async def _add_scope(
    session: AsyncSession, breach_id: UUID, scope: Scope, *, actor: str, at: datetime
) -> ScopeRow:
    row = scope_row(breach_id, scope, actor=actor, at=at)
    session.add(row)
    await session.flush()
    repository.add_timeline(
        session,
        breach_id,
        at=at,
        actor=actor,
        action="scope_added",
        detail={"scope_id": row.scope_id, "kind": row.kind, **_summary(row.spec)},
    )
    return row


def _summary(spec: dict[str, Any]) -> dict[str, Any]:
    # A scope of named people keeps the count in the timeline, not the whole list.
    if "user_ids" in spec:
        return {"user_ids": len(spec["user_ids"])}
    return spec


async def add_scope(
    sessions: Sessions, clock: Clock, breach_id: UUID, scope: Scope, *, actor: str
) -> ScopeOut:
    """Widen an open breach's scope; its new people get notices, nobody a second one."""
    now = await clock.now()
    async with transaction(sessions) as session:
        breach = await _open(session, breach_id)
        row = await _add_scope(session, breach.breach_id, scope, actor=actor, at=now)
    return queries.scope_out(row)


async def _open(session: AsyncSession, breach_id: UUID) -> BreachRow:
    breach = await repository.get_breach(session, breach_id, lock=True)
    if breach is None:
        raise BreachNotFound(f"no breach {breach_id}", field="breach_id")
    if breach.closed_at is not None:
        raise BreachClosed(f"breach {breach.reference} is closed", field="breach_id")
    return breach


async def record_announcement(
    sessions: Sessions, clock: Clock, breach_id: UUID, body: AnnouncementIn, *, actor: str
) -> BreachOut:
    """Record the public announcement that covers people who cannot be told one by one."""
    now = await clock.now()
    if body.published_at > now:
        raise InvalidAnnouncement("published_at is in the future", field="published_at")
    async with transaction(sessions) as session:
        breach = await _open(session, breach_id)
        if body.published_at < breach.aware_at:
            raise InvalidAnnouncement(
                "published_at is before the platform became aware of the breach",
                field="published_at",
            )
        breach.announcement_text = body.text
        breach.announcement_where = body.where
        breach.announcement_published_at = body.published_at
        breach.announcement_recorded_at = now
        counts = await queries.counts(session, breach)
        repository.add_timeline(
            session,
            breach_id,
            at=now,
            actor=actor,
            action="announcement_recorded",
            detail={
                "where": body.where,
                "published_at": body.published_at.isoformat(),
                "covers_unreachable": counts.unreachable,
            },
        )
    return await queries.get(sessions, clock, breach_id)


async def record_decision(
    sessions: Sessions, clock: Clock, breach_id: UUID, body: DecisionIn, *, actor: str
) -> BreachOut:
    """Record whether the supervisory authority is told (a later decision replaces it)."""
    now = await clock.now()
    async with transaction(sessions) as session:
        breach = await _open(session, breach_id)
        domain.check_decision(
            decision=body.decision,
            reason=body.reason,
            reported_at=body.reported_at,
            delay_reasons=body.delay_reasons,
            aware_at=breach.aware_at,
            now=now,
        )
        breach.decision = body.decision.value
        breach.decision_reason = body.reason
        breach.authority = body.authority
        breach.reported_at = body.reported_at
        breach.delay_reasons = body.delay_reasons
        breach.decided_at = now
        breach.decided_by = actor
        repository.add_timeline(
            session,
            breach_id,
            at=now,
            actor=actor,
            action="regulator_decision_recorded",
            detail=body.model_dump(mode="json", exclude_none=True),
        )
    return await queries.get(sessions, clock, breach_id)


async def close(sessions: Sessions, clock: Clock, breach_id: UUID, *, actor: str) -> BreachOut:
    """Close the breach once everyone is notified or covered and the decision is made."""
    now = await clock.now()
    async with transaction(sessions) as session:
        breach = await _open(session, breach_id)
        counts = await queries.counts(session, breach)
        domain.check_can_close(
            counts,
            decided=breach.decision is not None,
            resolving=await repository.resolving(session, breach_id),
        )
        breach.closed_at = now
        breach.closed_by = actor
        repository.add_timeline(
            session,
            breach_id,
            at=now,
            actor=actor,
            action="closed",
            detail={"affected": counts.affected, "notified": counts.notified},
        )
    return await queries.get(sessions, clock, breach_id)


async def resend(
    sessions: Sessions,
    clock: Clock,
    breach_id: UUID,
    body: ResendIn,
    *,
    actor: str,
    duty: duties.Duty | None = None,
) -> ResendOut:
    """Ask the notifier again for failed notices: everyone failed for a temporary reason,
    or the people named. Each is the next attempt of the same notice (same notice id, so
    the same Message-ID), and the notifier never sends again a notice a server accepted."""
    now = await clock.now()
    async with transaction(sessions) as session:
        breach = await _open(session, breach_id)
        reasons: tuple[str, ...] = domain.RESENDABLE if body.user_ids else domain.TEMPORARY_FAILURES
        people = await repository.failed_for_resend(
            session, breach.breach_id, reasons=reasons, user_ids=body.user_ids
        )
        chosen = [user_id for user_id, *_ in people]
        if chosen:
            # Each notice asked again carries its person's deadline, as the first did.
            duty = duty or resolution.default_duty()
            derivation = await duties.derivation_of(session, duty, breach)
            deadlines = duties.person_deadlines(duty, derivation, breach, [p[3] for p in people])
            groups: dict[tuple[tuple[str, ...], int, datetime], list[str]] = {}
            for user_id, categories_of, resends, country in people:
                key = (tuple(categories_of), resends + 1, deadlines[country])
                groups.setdefault(key, []).append(user_id)
            for (named, n, deadline), ids in sorted(groups.items(), key=lambda g: g[0][2]):
                requests = resolution.notices(
                    breach, ids, list(named), resend=n, deadline_at=deadline
                )
                await stage_many(session, requests)
            await repository.mark_resent(session, breach.breach_id, chosen)
            repository.add_timeline(
                session,
                breach.breach_id,
                at=now,
                actor=actor,
                action="resend_requested",
                detail={
                    "people": len(chosen),
                    "asked_for": len(body.user_ids) if body.user_ids else None,
                    "reasons": list(reasons),
                },
            )
        counts = await queries.counts(session, breach)
    taken = set(chosen)
    return ResendOut(
        breach_id=breach.breach_id,
        requested=len(chosen),
        not_resent=[u for u in dict.fromkeys(body.user_ids or []) if u not in taken],
        counts=queries.counts_out(counts),
    )
