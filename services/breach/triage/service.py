"""Use cases of triage: keep the alerts detection raises (merged by incident), list the
incidents, declare a breach from one or dismiss it, escalate those nobody decided on."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.breach import service as breaches
from services.breach.exceptions import InvalidDeclaration
from services.breach.models import DeclarationIn, OrganisationScope, Scope
from services.breach.triage import repository
from services.breach.triage.exceptions import IncidentDecided, IncidentNotFound
from services.breach.triage.models import (
    AlertOut,
    DeclaredOut,
    DismissalIn,
    IncidentDeclarationIn,
    IncidentOut,
    IncidentSummary,
)
from shared import events
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.outbox import stage

PRODUCER = "breach"
ESCALATE_BATCH = 100


async def on_alerts(sessions: Sessions, clock: Clock, alerts: Sequence[events.AlertRaised]) -> int:
    """Keep a batch of alerts, each merged into its incident; how many were new."""
    if not alerts:
        return 0
    now = await clock.now()
    kept = 0
    async with transaction(sessions) as session:
        for alert in alerts:
            kept += await repository.add_alert(session, alert.payload, at=now)
    return kept


def summary_of(row: dict[str, Any]) -> IncidentSummary:
    return IncidentSummary.model_validate(row)


async def listing(sessions: Sessions, *, status: str | None, limit: int) -> list[IncidentSummary]:
    """Incidents, the open ones first, then the newest."""
    async with sessions() as session:
        rows = await repository.listing(session, status=status, limit=limit)
    return [summary_of(row) for row in rows]


async def _out(session: AsyncSession, row: dict[str, Any]) -> IncidentOut:
    evidence = [
        AlertOut.model_validate(a) for a in await repository.alerts(session, row["incident_id"])
    ]
    return IncidentOut.model_validate({**row, "evidence": evidence})


async def get(sessions: Sessions, incident_id: UUID) -> IncidentOut:
    """One incident with its evidence and decision."""
    async with sessions() as session:
        row = await repository.get(session, incident_id)
        if row is None:
            raise IncidentNotFound(f"no incident {incident_id}", field="incident_id")
        return await _out(session, row)


async def _open(session: AsyncSession, incident_id: UUID) -> dict[str, Any]:
    row = await repository.get(session, incident_id, lock=True)
    if row is None:
        raise IncidentNotFound(f"no incident {incident_id}", field="incident_id")
    if row["status"] != "open":
        raise IncidentDecided(
            f"incident {incident_id} was {row['status']} already",
            field="incident_id",
            extra={"status": row["status"], "breach_id": str(row["breach_id"] or "") or None},
        )
    return row


def declaration(
    row: dict[str, Any], body: IncidentDeclarationIn, *, aware_at: Any
) -> DeclarationIn:
    """The breach declared from an incident: the people's account, the incident's scope
    (its organisation from the window's start until now, its categories), detected_at
    from the first alert and aware_at from the decision."""
    categories = body.data_categories or list(row["data_categories"])
    if not categories:
        raise InvalidDeclaration(
            "data_categories: the incident names no data categories; say which were involved",
            field="data_categories",
        )
    scope: list[Scope] = []
    if row["organisation_id"]:
        scope.append(
            OrganisationScope(
                kind="organisation",
                organisation=row["organisation_id"],
                since=row["window_start"],
                until=max(aware_at, row["window_start"] + timedelta(seconds=1)),
                data_categories=categories,
            )
        )
    return DeclarationIn(
        title=body.title,
        what_happened=body.what_happened,
        kinds=body.kinds,
        started_at=row["window_start"],
        ended_at=None,
        detected_at=row["first_detected_at"],
        aware_at=aware_at,
        data_categories=categories,
        approximate_records=body.approximate_records,
        likely_consequences=body.likely_consequences,
        measures_taken=body.measures_taken,
        what_you_can_do=body.what_you_can_do,
        contact_point=body.contact_point,
        scope=scope,
    )


def _triaged(
    incident_id: UUID,
    decision: events.TriageDecision,
    *,
    at: Any,
    by: str,
    reason: str | None = None,
    breach_id: UUID | None = None,
) -> events.IncidentTriaged:
    return events.IncidentTriaged.create(
        producer=PRODUCER,
        subject_id=str(incident_id),
        payload=events.IncidentTriagedPayload(
            incident_id=str(incident_id),
            decision=decision,
            breach_id=str(breach_id) if breach_id else None,
            reason=reason,
            decided_by=by,
            decided_at=at,
        ),
    )


async def declare(
    sessions: Sessions, clock: Clock, incident_id: UUID, body: IncidentDeclarationIn, *, actor: str
) -> DeclaredOut:
    """Declare a breach from an open incident through the declaration use case."""
    async with sessions() as session:
        row = await _open(session, incident_id)
    now = await clock.now()
    breach, _ = await breaches.declare(
        sessions, clock, declaration(row, body, aware_at=now), key=None, actor=actor
    )
    async with transaction(sessions) as session:
        await _open(session, incident_id)  # still open: nobody decided meanwhile
        await repository.decide(
            session,
            incident_id,
            status=events.TriageDecision.DECLARED.value,
            at=now,
            by=actor,
            reason=None,
            breach_id=breach.breach_id,
        )
        stage(
            session,
            _triaged(
                incident_id,
                events.TriageDecision.DECLARED,
                at=now,
                by=actor,
                breach_id=breach.breach_id,
            ),
        )
    return DeclaredOut(incident=await get(sessions, incident_id), breach=breach)


async def dismiss(
    sessions: Sessions, clock: Clock, incident_id: UUID, body: DismissalIn, *, actor: str
) -> IncidentOut:
    """Dismiss an open incident, keeping the reason."""
    now = await clock.now()
    async with transaction(sessions) as session:
        await _open(session, incident_id)
        await repository.decide(
            session,
            incident_id,
            status=events.TriageDecision.DISMISSED.value,
            at=now,
            by=actor,
            reason=body.reason,
            breach_id=None,
        )
        stage(
            session,
            _triaged(
                incident_id, events.TriageDecision.DISMISSED, at=now, by=actor, reason=body.reason
            ),
        )
    return await get(sessions, incident_id)


async def escalate(sessions: Sessions, clock: Clock, after: timedelta) -> int:
    """Escalate, once, each incident left open longer than ``after``; how many."""
    now = await clock.now()
    async with transaction(sessions) as session:
        rows = await repository.overdue(session, now - after, ESCALATE_BATCH)
        for row in rows:
            await repository.mark_escalated(session, row["incident_id"], now)
            stage(
                session,
                events.IncidentEscalated.create(
                    producer=PRODUCER,
                    subject_id=str(row["incident_id"]),
                    payload=events.IncidentEscalatedPayload(
                        incident_id=str(row["incident_id"]),
                        organisation_id=row["organisation_id"],
                        rules=[events.Rule(r) for r in row["rules"]],
                        first_detected_at=row["first_detected_at"],
                        escalated_at=now,
                        untriaged_for_seconds=(now - row["received_at"]).total_seconds(),
                    ),
                ),
            )
    return len(rows)
