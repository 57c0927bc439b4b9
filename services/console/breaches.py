"""The security team's use cases: breaches listed with their clocks, declared, followed,
widened, announced, decided, closed; the people still to be told, paged and filtered."""

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from client import AsyncClient, Conflict, Invalid, breach
from client.call import Call
from client.models.breach import (
    AnnouncementIn,
    BreachOut,
    BreachSummary,
    DecisionIn,
    DeclarationIn,
    PersonOut,
    Scope,
    ScopeOut,
    TimelineOut,
)
from services.console import forms
from services.console.domain import Badge, deadline_badge

PEOPLE_STATES = ("pending", "requested", "delivered", "uncertain", "failed", "all")
"""The people filter: pending (neither notified nor covered, as the counts say), a
notice's state, or everyone."""


@dataclass(frozen=True)
class Row:
    """A breach in the list: its summary, its counts and its deadline badge."""

    summary: BreachSummary
    breach: BreachOut
    badge: Badge


async def listed(
    api: AsyncClient, *, status: str | None, after: str | None, limit: int
) -> tuple[list[Row], str | None]:
    """A page of breaches, newest first, each with its counts (one call a breach on the
    page: the list's route gives no counts but pending) and badge; the next page's cursor."""
    call = breach.breaches(status=status, limit=limit)
    if after:
        call = _after(call, after)
    page = await api.send(call)
    details = await asyncio.gather(*(api.send(breach.get(b.breach_id)) for b in page.breaches))
    rows = [Row(s, d, badge(d)) for s, d in zip(page.breaches, details, strict=True)]
    return rows, page.next_after


def _after(call: Any, after: str) -> Any:
    from dataclasses import replace

    return replace(call, params={**call.params, "after": after})


def badge(detail: BreachOut) -> Badge:
    """The deadline badge of a breach."""
    return deadline_badge(
        detail.seconds_left, detail.deadline_at, closed=detail.status.value == "closed"
    )


async def declare(api: AsyncClient, form: forms.Form) -> tuple[BreachOut | None, forms.Checked]:
    """Declare the breach the form describes, with the form's own idempotency key (a
    double submit makes one breach); or the problems by field."""
    checked = forms.check(forms.declaration(form), DeclarationIn)
    key = forms.text(form, "idempotency_key")
    if key is None:
        checked.errors.setdefault("form", "the form has no idempotency key; reload it")
    if not checked.ok or key is None:
        return None, checked
    call: Call[BreachOut] = Call(
        service="breach",
        method="POST",
        path="/breaches",
        returns=BreachOut,
        body=checked.body,
        headers={"Idempotency-Key": key},
        retry=True,
    )
    try:
        return await api.send(call), checked
    except (Invalid, Conflict) as exc:
        return None, forms.from_api(checked, exc)


@dataclass(frozen=True)
class Detail:
    """One breach's page: the breach, its badge, scopes, timeline, what closing lacks."""

    breach: BreachOut
    badge: Badge
    scopes: list[ScopeOut]
    timeline: list[TimelineOut]
    missing: list[str]


async def detail(api: AsyncClient, breach_id: UUID) -> Detail:
    """Everything the breach's page shows."""
    found, scopes, timeline = await asyncio.gather(
        api.send(breach.get(breach_id)),
        api.send(breach.scopes(breach_id)),
        api.send(breach.timeline(breach_id)),
    )
    return Detail(found, badge(found), scopes, timeline, missing(found))


def missing(found: BreachOut) -> list[str]:
    """What closing the breach still lacks, as far as its counts and decisions show (the
    service has the last word and its refusal is shown too)."""
    if found.status.value == "closed":
        return []
    gaps: list[str] = []
    if found.scopes_resolving:
        gaps.append(f"{found.scopes_resolving} scope(s) still being resolved")
    if found.counts.pending:
        gaps.append(
            f"{found.counts.pending} people neither notified nor covered by an announcement"
        )
    if found.announcement_required and found.announcement is None:
        gaps.append("the public announcement for those who cannot be reached")
    if found.regulator_decision is None:
        gaps.append("the regulator decision")
    return gaps


@dataclass(frozen=True)
class People:
    """A page of people filtered, and where the next page starts."""

    rows: list[PersonOut]
    next_after: str | None


def _matches(person: PersonOut, state: str, search: str | None) -> bool:
    if state not in ("all", "pending") and person.state.value != state:
        return False
    return search is None or search.lower() in person.user_id.lower()


async def _filtered(
    api: AsyncClient, breach_id: UUID, state: str, search: str | None, after: str | None
) -> AsyncIterator[tuple[PersonOut, str]]:
    """The people matching the filter, in the service's order, each with its cursor."""
    call = breach.people(breach_id, unnotified=state == "pending", limit=1000)
    if after:
        call = _after(call, after)
    next_call: Any = call
    while next_call is not None:
        page = await api.send(next_call)
        for person in page.people:
            if _matches(person, state, search):
                yield person, person.user_id
        next_call = next_call.next(page)


async def people(
    api: AsyncClient,
    breach_id: UUID,
    *,
    state: str,
    search: str | None,
    after: str | None,
    limit: int,
) -> People:
    """A page of the people matching the filter (keyset: after a user id)."""
    rows: list[PersonOut] = []
    more = False
    async for person, _ in _filtered(api, breach_id, state, search, after):
        if len(rows) == limit:
            more = True
            break
        rows.append(person)
    return People(rows, rows[-1].user_id if more and rows else None)


PEOPLE_COLUMNS = (
    "user_id",
    "state",
    "attempts",
    "requested_at",
    "outcome_at",
    "smtp_code",
    "reason",
    "detail",
)


async def people_csv(
    api: AsyncClient, breach_id: UUID, *, state: str, search: str | None
) -> AsyncIterator[bytes]:
    """Every person matching the filter as CSV, streamed: exactly the filtered list."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(PEOPLE_COLUMNS)
    async for person, _ in _filtered(api, breach_id, state, search, None):
        row = person.model_dump(mode="json")
        writer.writerow(["" if row[c] is None else row[c] for c in PEOPLE_COLUMNS])
        if buffer.tell() > 32 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def act(api: AsyncClient, breach_id: UUID, action: str, form: forms.Form) -> forms.Checked:
    """Add a scope, record the announcement or the decision, or close; the problems by
    field (none: done)."""
    if action == "scope":
        checked = forms.scope(form)
        if checked.ok:
            checked = forms.check(checked, Scope)
        if checked.ok:
            scope = Scope.model_validate(checked.body)
            return await _send(api, breach.add_scope(breach_id, scope), checked)
        return checked
    if action == "announcement":
        checked = forms.check(forms.announcement(form), AnnouncementIn)
        if checked.ok:
            body = AnnouncementIn.model_validate(checked.body)
            return await _send(api, breach.announce(breach_id, body), checked)
        return checked
    if action == "decision":
        checked = forms.check(forms.decision(form), DecisionIn)
        if checked.ok:
            decided = DecisionIn.model_validate(checked.body)
            return await _send(api, breach.decide(breach_id, decided), checked)
        return checked
    if action == "close":
        return await _send(api, breach.close(breach_id), forms.Checked({}))
    raise ValueError(action)


async def _send(api: AsyncClient, call: Call[Any], checked: forms.Checked) -> forms.Checked:
    try:
        await api.send(call)
    except (Invalid, Conflict) as exc:
        forms.from_api(checked, exc)
    return checked
