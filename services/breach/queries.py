"""Reading breaches: one with its counts and time left, the list, scopes, people, the
timeline. Every answer takes "now" from the service's clock."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.breach import domain, repository
from services.breach.domain import Counts, Decision, NoticeState
from services.breach.exceptions import BreachNotFound
from services.breach.models import (
    AnnouncementOut,
    BreachOut,
    BreachRow,
    BreachSummary,
    CountsOut,
    DecisionOut,
    MailServerOut,
    PersonOut,
    ScopeOut,
    ScopeRow,
)
from shared.clock import Clock
from shared.db import Sessions


def counts_of(by_state: dict[str, int], announced: bool) -> Counts:
    """The domain's counts from stored per-state numbers."""
    return Counts(
        requested=by_state.get(NoticeState.REQUESTED, 0),
        delivered=by_state.get(NoticeState.DELIVERED, 0),
        uncertain=by_state.get(NoticeState.UNCERTAIN, 0),
        failed=by_state.get(NoticeState.FAILED, 0),
        announced=announced,
    )


async def counts(session: AsyncSession, breach: BreachRow) -> Counts:
    by_state = (await repository.state_counts(session, [breach.breach_id]))[breach.breach_id]
    return counts_of(by_state, breach.announcement_recorded_at is not None)


def counts_out(counts: Counts) -> CountsOut:
    """The counts as the API shows them."""
    return CountsOut(
        affected=counts.affected,
        requested=counts.requested,
        delivered=counts.delivered,
        uncertain=counts.uncertain,
        failed=counts.failed,
        notified=counts.notified,
        unreachable=counts.unreachable,
        covered_by_announcement=counts.covered_by_announcement,
        pending=counts.pending,
    )


def breach_out(
    breach: BreachRow,
    counts: Counts,
    *,
    now: datetime,
    resolving: int,
    mail_servers: list[dict[str, Any]] | None = None,
    resent: int = 0,
) -> BreachOut:
    """The breach as the API shows it, with its time left."""
    announcement = None
    if breach.announcement_recorded_at is not None:
        announcement = AnnouncementOut(
            text=breach.announcement_text or "",
            where=breach.announcement_where or "",
            published_at=_utc(breach.announcement_published_at),
            recorded_at=_utc(breach.announcement_recorded_at),
        )
    decision = None
    if breach.decision is not None:
        decision = DecisionOut(
            decision=Decision(breach.decision),
            reason=breach.decision_reason,
            authority=breach.authority,
            reported_at=breach.reported_at,
            delay_reasons=breach.delay_reasons,
            decided_at=_utc(breach.decided_at),
            decided_by=breach.decided_by or "",
        )
    return BreachOut(
        **breach.model_dump(
            include={
                "breach_id",
                "reference",
                "title",
                "what_happened",
                "kinds",
                "started_at",
                "ended_at",
                "detected_at",
                "aware_at",
                "data_categories",
                "approximate_records",
                "likely_consequences",
                "measures_taken",
                "what_you_can_do",
                "contact_point",
                "declared_by",
                "declared_at",
                "closed_at",
            }
        ),
        status="closed" if breach.closed_at else "open",
        deadline_at=domain.deadline_of(breach.aware_at),
        seconds_left=int(domain.time_left(breach.aware_at, now).total_seconds()),
        counts=counts_out(counts),
        announcement_required=counts.announcement_required,
        announcement=announcement,
        regulator_decision=decision,
        scopes_resolving=resolving,
        mail_servers_unreachable=[MailServerOut(**m) for m in mail_servers or []],
        resent=resent,
    )


def _utc(value: datetime | None) -> datetime:
    assert value is not None
    return value.astimezone(UTC)


async def load(session: AsyncSession, breach_id: UUID) -> BreachRow:
    """The breach, or BreachNotFound."""
    breach = await repository.get_breach(session, breach_id)
    if breach is None:
        raise BreachNotFound(f"no breach {breach_id}", field="breach_id")
    return breach


async def get(sessions: Sessions, clock: Clock, breach_id: UUID) -> BreachOut:
    """One breach with its counts, time left and decisions."""
    now = await clock.now()
    async with sessions() as session:
        breach = await load(session, breach_id)
        tally = await counts(session, breach)
        resolving = await repository.resolving(session, breach_id)
        down = await repository.mail_servers_down(session)
        resent = await repository.resent(session, breach_id)
    return breach_out(breach, tally, now=now, resolving=resolving, mail_servers=down, resent=resent)


async def list_breaches(
    sessions: Sessions,
    clock: Clock,
    *,
    open_only: bool | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[BreachSummary]:
    """Breaches, newest first, each with its time left and who is still pending."""
    now = await clock.now()
    async with sessions() as session:
        rows = await repository.list_breaches(
            session, open_only=open_only, after=after, limit=limit
        )
        by_breach = await repository.state_counts(session, [r.breach_id for r in rows])
    out = []
    for row in rows:
        counts = counts_of(by_breach[row.breach_id], row.announcement_recorded_at is not None)
        out.append(
            BreachSummary(
                breach_id=row.breach_id,
                reference=row.reference,
                title=row.title,
                status="closed" if row.closed_at else "open",
                aware_at=row.aware_at,
                deadline_at=domain.deadline_of(row.aware_at),
                seconds_left=int(domain.time_left(row.aware_at, now).total_seconds()),
                affected=counts.affected,
                pending=counts.pending,
            )
        )
    return out


def scope_out(row: ScopeRow) -> ScopeOut:
    """A scope as the API shows it."""
    assert row.scope_id is not None
    out = row.model_dump(exclude={"breach_id", "cursor"})
    if "user_ids" in out["spec"]:
        # Up to 100,000 ids: the scope shows how many it names, not every one.
        out["spec"] = {**out["spec"], "user_ids": len(out["spec"]["user_ids"])}
    return ScopeOut(**out)


async def scopes(sessions: Sessions, breach_id: UUID) -> list[ScopeOut]:
    """The breach's scopes and how far each got."""
    async with sessions() as session:
        await load(session, breach_id)
        return [scope_out(r) for r in await repository.scopes(session, breach_id)]


def person_out(row: Any, announced: bool) -> PersonOut:
    """One person's evidence as the API shows it."""
    state = domain.shown_state(NoticeState(row.state), announced)
    return PersonOut(**{**row.model_dump(exclude={"breach_id", "scope_id"}), "state": state})


async def people(
    sessions: Sessions,
    breach_id: UUID,
    *,
    unnotified: bool,
    after: str | None,
    limit: int,
) -> tuple[list[PersonOut], str | None]:
    """A page of the breach's people (only those not yet notified nor covered, if asked)."""
    async with sessions() as session:
        breach = await load(session, breach_id)
        announced = breach.announcement_recorded_at is not None
        states: list[str] | None = None
        if unnotified:
            states = (
                [NoticeState.REQUESTED]
                if announced
                else [NoticeState.REQUESTED, NoticeState.FAILED]
            )
        rows = await repository.people(session, breach_id, states=states, after=after, limit=limit)
    page = [person_out(r, announced) for r in rows]
    return page, (page[-1].user_id if len(page) == limit else None)


async def timeline(sessions: Sessions, breach_id: UUID) -> list[dict[str, Any]]:
    """The breach's timeline, oldest first."""
    async with sessions() as session:
        await load(session, breach_id)
        rows = await repository.timeline(session, breach_id)
    return [r.model_dump(exclude={"breach_id", "recorded_at"}) for r in rows]
