"""Scopes resolved to people, a page at a time, durably.

Each scope keeps a cursor. A page of people is fetched from where the cursor points
(the audit service for an organisation's window, the service's own subjects list for a
country or everyone, the stored list for named people), then written in ONE
transaction: the people the breach did not have yet, one
``breach.notification_requested`` each in the outbox, and the cursor moved past the
page. Nobody is loaded all at once; a restart resumes from the stored cursor; someone
already affected (by this scope or an earlier one) never gets a second request.
"""

import functools
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from services.breach import bulk, domain, duties, obligation_store, regimes, repository
from services.breach.clients import AuditClient
from services.breach.exceptions import AuditUnavailable
from services.breach.models import (
    BreachRow,
    CountryScope,
    EveryoneScope,
    OrganisationScope,
    ScopeRow,
    UsersScope,
    stored_scope,
)
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import BreachNotificationRequested, NotificationRequestedPayload
from shared.logging import get_logger
from shared.outbox import stage_many

log = get_logger(__name__)

PRODUCER = "breach"


@dataclass(frozen=True)
class Page:
    """People of one page, and the cursor after it (None: the scope is exhausted)."""

    user_ids: list[str]
    next_cursor: str | None


async def fetch(
    sessions: Sessions,
    audit: AuditClient,
    scope: ScopeRow,
    spec: UsersScope | OrganisationScope | CountryScope | EveryoneScope,
    *,
    size: int,
) -> Page:
    """The page of people the scope's cursor points at."""
    cursor = scope.cursor
    if isinstance(spec, UsersScope):
        assert scope.scope_id is not None
        start = int(cursor or 0)
        async with sessions() as session:
            ids, total = await repository.scope_user_ids(session, scope.scope_id, start, size)
        end = start + len(ids)
        return Page(list(dict.fromkeys(ids)), str(end) if end < total else None)
    if isinstance(spec, OrganisationScope):
        page = await audit.subjects(
            spec.organisation,
            since=spec.since,
            until=spec.until,
            categories=spec.data_categories,
            after=cursor,
            limit=size,
        )
        return Page(page.subjects, page.next_after)
    country = spec.country if isinstance(spec, CountryScope) else None
    async with sessions() as session:
        ids = await repository.subject_ids(session, country=country, after=cursor, limit=size)
    return Page(ids, ids[-1] if len(ids) == size else None)


def notices(
    breach: BreachRow,
    user_ids: list[str],
    categories: list[str],
    *,
    resend: int = 0,
    deadline_at: datetime | None = None,
) -> list[BreachNotificationRequested]:
    """One request per person, all carrying the same account of the breach and the same
    deadline (the platform's 72 hours from awareness unless ``deadline_at`` is given).

    A page holds thousands of people: the account is validated once, then copied with
    each person's notice id and user id (validating 100,000 identical payloads one by
    one cost the resolver seconds of CPU that the notifier and the mail server needed).
    """
    if not user_ids:
        return []
    breach_id = str(breach.breach_id)
    first = user_ids[0]
    payload = NotificationRequestedPayload(
        notice_id=domain.notice_id(breach_id, first),
        breach_id=breach_id,
        user_id=first,
        reference=breach.reference,
        title=breach.title,
        what_happened=breach.what_happened,
        started_at=breach.started_at,
        ended_at=breach.ended_at,
        aware_at=breach.aware_at,
        data_categories=categories,
        likely_consequences=breach.likely_consequences,
        measures_taken=breach.measures_taken,
        what_you_can_do=breach.what_you_can_do,
        contact_point=breach.contact_point,
        deadline_at=deadline_at or domain.deadline_of(breach.aware_at),
        resend=resend,
    )
    template = BreachNotificationRequested.create(
        producer=PRODUCER, subject_id=first, payload=payload
    )
    return [template] + [
        template.model_copy(
            update={
                "event_id": uuid4(),
                "subject_id": user_id,
                "payload": payload.model_copy(
                    update={"notice_id": domain.notice_id(breach_id, user_id), "user_id": user_id}
                ),
            }
        )
        for user_id in user_ids[1:]
    ]


async def resolve_page(
    sessions: Sessions,
    audit: AuditClient,
    clock: Clock,
    scope_id: int,
    *,
    size: int,
    duty: duties.Duty | None = None,
) -> bool:
    """Resolve the scope's next page; True while more pages remain.

    In the page's transaction the breach's obligations are derived again from its people
    by country (``breach.obligation_required`` for each that became required), and each
    new person's notice carries the strictest deadline of the regimes covering them."""
    duty = duty or default_duty()
    async with sessions() as session:
        scope = await repository.lock_scope(session, scope_id)
        if scope is None or scope.done:
            return False
        breach = await repository.get_breach(session, scope.breach_id)
        spec = stored_scope(scope.kind, await repository.scope_spec(session, scope_id))
    assert breach is not None
    read_from = scope.cursor
    try:
        page = await fetch(sessions, audit, scope, spec, size=size)
    except AuditUnavailable as exc:
        await _failed(sessions, scope_id, exc.message)
        log.warning("breach.scope_unresolved", scope_id=scope_id, error=exc.message)
        return False
    now = await clock.now()
    named = spec.data_categories if isinstance(spec, OrganisationScope) else None
    categories = named or breach.data_categories
    async with transaction(sessions) as session:
        locked = await repository.lock_scope(session, scope_id)
        if locked is None or locked.done or locked.cursor != read_from:
            return False  # another replica wrote this page first
        new = await bulk.add_affected(
            session,
            breach_id=breach.breach_id,
            scope_id=scope_id,
            user_ids=page.user_ids,
            categories=categories,
            at=now,
        )
        if new:
            await _stage_notices(session, duty, breach, new, categories, now=now)
        locked.cursor = page.next_cursor
        locked.found += len(page.user_ids)
        locked.added += len(new)
        locked.pages += 1
        locked.last_error = None
        if page.next_cursor is None:
            log.info("breach.scope_resolved", scope_id=scope_id, added=locked.added)
            locked.done = True
            locked.finished_at = now
            repository.add_timeline(
                session,
                breach.breach_id,
                at=now,
                actor="breach",
                action="scope_resolved",
                detail={"scope_id": scope_id, "found": locked.found, "added": locked.added},
            )
    return page.next_cursor is not None


@functools.cache
def default_duty() -> duties.Duty:
    """The shipped regimes with no establishment: for callers that name none."""
    return duties.Duty(regimes.load())


async def _stage_notices(
    session: AsyncSession,
    duty: duties.Duty,
    breach: BreachRow,
    new: list[tuple[str, str | None]],
    categories: list[str],
    *,
    now: datetime,
) -> None:
    """Count the new people by country, derive the obligations again, and stage one
    notice each, the most urgent deadlines first."""
    # The breach's lock: two scopes of one breach (or an assessment) derive in turn.
    await repository.get_breach(session, breach.breach_id, lock=True)
    await obligation_store.add_countries(session, breach.breach_id, [c or "" for _, c in new])
    derivation = await duties.rederive(session, duty, breach, now=now, actor=PRODUCER)
    deadlines = duties.person_deadlines(duty, derivation, breach, [c for _, c in new])
    by_deadline: dict[datetime, list[str]] = {}
    for user_id, country in new:
        by_deadline.setdefault(deadlines[country], []).append(user_id)
    for deadline, user_ids in sorted(by_deadline.items()):
        await stage_many(session, notices(breach, user_ids, categories, deadline_at=deadline))


async def _failed(sessions: Sessions, scope_id: int, error: str) -> None:
    async with transaction(sessions) as session:
        scope = await repository.lock_scope(session, scope_id)
        if scope is not None:
            scope.last_error = error[:1000]


async def resolve_pending(
    sessions: Sessions,
    audit: AuditClient,
    clock: Clock,
    *,
    size: int,
    duty: duties.Duty | None = None,
) -> int:
    """Resolve every scope waiting, page by page; returns the pages written."""
    async with sessions() as session:
        waiting = await repository.pending_scopes(session)
    pages = 0
    for scope_id in waiting:
        more = True
        while more:
            more = await resolve_page(sessions, audit, clock, scope_id, size=size, duty=duty)
            pages += 1
    return pages
