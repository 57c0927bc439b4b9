"""Use cases of the detection service: judge a batch of disclosures (or of the audit
check's violations), keep the grants, close an incident the security team triaged, list
incidents. Each batch's counts, what it saw and the alerts it raised are written in one
transaction, the alerts staged in the outbox with them.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from services.detection import domain, repository
from services.detection.domain import Firing, History, hour_of
from services.detection.models import IncidentOut, RulesOut
from services.detection.repository import Grant
from services.detection.watch import Changes, Watch
from shared import events
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.outbox import stage

PRODUCER = "detection"


async def _load(session: AsyncSession, watch: Watch, orgs: set[str], latest: datetime) -> None:
    """Read what the schema keeps into memory: once at first, then each new
    organisation's history."""
    if not watch.loaded:
        watch.watched = await repository.watched(session)
        watch.seen = await repository.seen(session)
        watch.grants = await repository.grants(session)
        watch.loaded = True
    missing = sorted(org for org in orgs if org not in watch.histories)
    if not missing:
        return
    since = hour_of(latest) - (watch.settings.baseline_weeks + 1) * domain.WEEK
    for org in missing:
        first = watch.watched.get(org)
        watch.histories[org] = History(first_hour=hour_of(first) if first else None)
    for org, hour, counted in await repository.activity(session, missing, since):
        watch.histories[org].add(hour, counted)


async def _store(session: AsyncSession, changes: Changes) -> None:
    rows = [(org, hour, counted) for (org, hour), counted in changes.hours.items()]
    await repository.save_activity(session, rows)
    await repository.save_watched(session, changes.watched)
    await repository.save_seen(session, changes.seen)


def alert_payload(firing: Firing, alert_id: UUID, incident_id: UUID, now: datetime) -> Any:
    """The contract's payload of a firing."""
    return events.AlertRaisedPayload(
        alert_id=str(alert_id),
        incident_id=str(incident_id),
        rule=firing.rule,
        organisation_id=firing.organisation_id,
        producer=firing.producer,
        channel=firing.channel,
        window_start=firing.window_start,
        window_end=firing.window_end,
        data_categories=list(firing.data_categories),
        counts=events.AlertCounts(
            reads=firing.reads,
            subjects=firing.subjects,
            refusals=firing.refusals,
            violations=firing.violations,
            baseline=firing.baseline,
            threshold=firing.threshold,
        ),
        audit_seqs=list(firing.audit_seqs[: events.AUDIT_SEQS_CAP]),
        audit_seqs_total=firing.audit_seqs_total,
        summary=firing.summary,
        detected_at=now,
    )


async def _raise(session: AsyncSession, clock: Clock, firings: list[tuple[Firing, int]]) -> int:
    """Raise each firing not raised before, merged into its open incident; how many."""
    raised = 0
    now: datetime | None = None
    for firing, _ in firings:
        alert_id = firing.alert_id()
        if await repository.alert_exists(session, alert_id):
            continue
        now = now or await clock.now()
        incident_id = await repository.open_incident(
            session,
            incident_id=uuid4(),
            family=firing.family,
            organisation_id=firing.organisation_id,
            producer=firing.producer if firing.family == domain.Family.NOVELTY else None,
            at=now,
        )
        payload = alert_payload(firing, alert_id, incident_id, now)
        await repository.add_alert(
            session,
            alert_id=alert_id,
            incident_id=incident_id,
            rule=firing.rule.value,
            organisation_id=firing.organisation_id,
            detected_at=now,
            payload=payload.model_dump_json(),
        )
        stage(
            session,
            events.AlertRaised.create(
                producer=PRODUCER, subject_id=str(incident_id), payload=payload
            ),
        )
        raised += 1
    return raised


async def _judged(sessions: Sessions, watch: Watch, clock: Clock, changes: Changes) -> int:
    watch.judge(changes)
    async with transaction(sessions) as session:
        await _store(session, changes)
        raised = await _raise(session, clock, changes.firings)
    watch.mark_fired(changes)
    return raised


async def on_disclosures(
    sessions: Sessions, watch: Watch, clock: Clock, disclosures: Sequence[events.DataAccessed]
) -> int:
    """Count a batch of disclosures, judge the hours it touched, raise what fired; how
    many alerts were raised."""
    if not disclosures:
        return 0
    async with watch.lock:
        try:
            orgs = {d.payload.organisation_id for d in disclosures}
            if not watch.loaded or not orgs <= watch.histories.keys():
                latest = max(d.payload.accessed_at for d in disclosures)
                async with sessions() as session:
                    await _load(session, watch, orgs, latest)
            changes = Changes()
            for disclosure in disclosures:
                watch.apply(disclosure, changes)
            return await _judged(sessions, watch, clock, changes)
        except BaseException:
            watch.reset()  # half-applied: read again from the schema with the batch
            raise


async def on_violations(
    sessions: Sessions, watch: Watch, clock: Clock, found: Sequence[events.ViolationDetected]
) -> int:
    """Count the audit check's violations per organisation and hour; raise what fired."""
    if not found:
        return 0
    async with watch.lock:
        try:
            changes = Changes()
            for violation in found:
                p = violation.payload
                watch.violation(p.organisation_id, p.log_index, violation.occurred_at, changes)
            return await _judged(sessions, watch, clock, changes)
        except BaseException:
            watch.reset()
            raise


def grant_of(event: events.AccessGrantCreated | events.AccessGrantRevoked) -> Grant:
    p = event.payload
    return Grant(
        grant_id=p.grant_id,
        organisation_id=p.organisation,
        data_categories=frozenset(p.data_categories),
        valid_from=p.valid_from,
        valid_until=p.valid_until,
        revoked_at=p.revoked_at,
    )


async def on_grants(
    sessions: Sessions,
    watch: Watch,
    changed: Sequence[events.AccessGrantCreated | events.AccessGrantRevoked],
) -> None:
    """Keep the grants, to judge reads against what they cover and until when."""
    async with watch.lock:
        grants = [grant_of(event) for event in changed]
        async with transaction(sessions) as session:
            for grant in grants:
                await repository.save_grant(session, grant)
        for grant in grants:
            known = watch.grants.get(grant.grant_id)
            if known is not None and known.revoked_at is not None and grant.revoked_at is None:
                grant = Grant(**{**vars(grant), "revoked_at": known.revoked_at})
            watch.grants[grant.grant_id] = grant


async def on_triaged(sessions: Sessions, event: events.IncidentTriaged) -> bool:
    """Close the incident the security team decided on: later alerts open a new one."""
    p = event.payload
    try:
        incident_id = UUID(p.incident_id)
    except ValueError:
        return False  # not one of ours
    async with transaction(sessions) as session:
        return await repository.close_incident(
            session, incident_id, at=p.decided_at, decision=p.decision.value, breach_id=p.breach_id
        )


async def incidents(sessions: Sessions, *, open_only: bool, limit: int) -> list[IncidentOut]:
    """Incidents, newest first, with their alerts."""
    async with sessions() as session:
        rows = await repository.incidents(session, open_only=open_only, limit=limit)
    return [IncidentOut.model_validate(row) for row in rows]


def rules(watch: Watch, organisation: str | None) -> RulesOut:
    """The rule settings in force for ``organisation`` (or the defaults)."""
    settings = watch.settings
    return RulesOut(
        organisation_id=organisation,
        overridden=organisation is not None and organisation in settings.organisations,
        settings=settings.rules_for(organisation),
        baseline_weeks=settings.baseline_weeks,
    )


async def prune(sessions: Sessions, clock: Clock, weeks: int) -> int:
    """Forget hours older than the baselines look back (and a week more)."""
    before = hour_of(await clock.now()) - (weeks + 1) * domain.WEEK
    async with transaction(sessions) as session:
        return await repository.prune_activity(session, before)
