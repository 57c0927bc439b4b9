"""Use cases of the obligations under the regimes: derive them again as a breach grows or is
assessed, record the assessment, record that a regulator was told, give each person's
notice its deadline, and show them.

The derivation itself is pure (``obligations.py``, from ``regimes.toml``); here it is fed
from the database and its result stored in the caller's transaction: the obligations as
derived, and a ``breach.obligation_required`` event for each that became required.
Every computed deadline is computed from its regime's row, not legal advice.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.breach import domain, obligation_store, obligations, repository
from services.breach.exceptions import (
    BreachClosed,
    BreachNotFound,
    InvalidAssessment,
    InvalidRegulatorNotice,
    ObligationAlreadyMet,
    ObligationNotFound,
)
from services.breach.models import (
    AssessmentIn,
    AssessmentOut,
    BreachRow,
    ObligationMarkOut,
    ObligationOut,
    ObligationsOut,
    RegulatorNoticeIn,
    WithoutDutyOut,
)
from services.breach.obligations import Assessment, BreachFacts, Derivation, Recipient
from services.breach.regimes import Regimes, Trigger
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import BreachObligationRequired, ObligationPayload
from shared.outbox import stage_many

PRODUCER = "breach"


@dataclass(frozen=True)
class Duty:
    """What the derivation needs besides the breach: the regimes and where the controller
    is established."""

    regimes: Regimes
    establishment: tuple[str, ...] = ()

    def covers(self, regime_id: str, country: str) -> bool:
        """Whether ``regime_id`` covers a person of ``country`` ('' unknown) in a breach."""
        regime = self.regimes[regime_id]
        return any(regime.covers(c) for c in self.establishment) or (
            bool(country) and regime.covers(country)
        )


def facts(
    breach: BreachRow, people_by_country: dict[str, int], assessed: dict[str, Any] | None
) -> BreachFacts:
    """What the derivation reads of a breach, from its row, counts and last assessment."""
    assessment = None
    if assessed is not None:
        assessment = Assessment(
            concluded_at=assessed["concluded_at"],
            findings=frozenset(Trigger(f) for f in assessed["findings"]),
        )
    return BreachFacts(
        detected_at=breach.detected_at,
        aware_at=breach.aware_at,
        occurred_at=breach.started_at,
        people_by_country=people_by_country,
        sensitive=bool(assessed and assessed["sensitive"]),
        assessment=assessment,
    )


async def derivation_of(session: AsyncSession, duty: Duty, breach: BreachRow) -> Derivation:
    """The breach's obligations as its stored facts give them now."""
    counted = await obligation_store.countries(session, breach.breach_id)
    assessed = await obligation_store.assessments(session, breach.breach_id)
    return obligations.derive(
        duty.regimes,
        establishment=duty.establishment,
        facts=facts(breach, counted, assessed[-1] if assessed else None),
    )


async def rederive(
    session: AsyncSession, duty: Duty, breach: BreachRow, *, now: datetime, actor: str
) -> Derivation:
    """Derive the breach's obligations again and store them, in the caller's transaction
    (which holds the breach's lock); each that became required stages its event."""
    derivation = await derivation_of(session, duty, breach)
    before = await obligation_store.obligations(session, breach.breach_id)
    was = {(r["regime"], r["recipient"]) for r in before if r["requirement"] == "required"}
    await obligation_store.save_derived(session, breach.breach_id, derivation.obligations, at=now)
    became = [
        o
        for o in derivation.obligations
        if o.requirement is obligations.Requirement.REQUIRED
        and (o.regime_id, o.recipient.value) not in was
    ]
    if became:
        await stage_many(
            session,
            [
                BreachObligationRequired.create(
                    producer=PRODUCER,
                    subject_id=str(breach.breach_id),
                    payload=payload(duty, breach, o),
                )
                for o in became
            ],
        )
        for o in became:
            repository.add_timeline(
                session,
                breach.breach_id,
                at=now,
                actor=actor,
                action="obligation_required",
                detail={
                    "regime": o.regime_id,
                    "recipient": o.recipient.value,
                    "reason": o.reason,
                    "deadline_at": o.deadline_at.isoformat() if o.deadline_at else None,
                },
            )
    return derivation


def payload(
    duty: Duty, breach: BreachRow, o: obligations.Obligation | dict[str, Any], **more: Any
) -> ObligationPayload:
    """An obligation's event payload, from a derived obligation or a stored row."""
    if isinstance(o, obligations.Obligation):
        row: dict[str, Any] = {
            "regime": o.regime_id,
            "recipient": o.recipient.value,
            "requirement": o.requirement.value,
            "reason": o.reason,
            "people": o.people,
            "anchor": o.anchor.value,
            "anchor_at": o.anchor_at,
            "deadline_at": o.deadline_at,
            "disclaimer": o.disclaimer,
        }
    else:
        row = o
    return ObligationPayload(
        breach_id=str(breach.breach_id),
        reference=breach.reference,
        regime=row["regime"],
        recipient=row["recipient"],
        regulator=_regulator(duty, row["regime"]),
        requirement=row["requirement"],
        reason=row["reason"],
        people=int(row["people"]),
        anchor=row["anchor"],
        anchor_at=row["anchor_at"],
        deadline_at=row["deadline_at"],
        disclaimer=row["disclaimer"],
        **more,
    )


def _regulator(duty: Duty, regime_id: str) -> str:
    try:
        return duty.regimes[regime_id].regulator
    except KeyError:  # a row no longer in the file (kept with its obligation)
        return regime_id


def person_deadlines(
    duty: Duty, derivation: Derivation, breach: BreachRow, countries: Sequence[str | None]
) -> dict[str | None, datetime]:
    """Each country's notice deadline: the earliest of the platform's 72 hours from
    awareness and the fixed deadlines of the regimes covering its residents that bind."""
    promised = domain.deadline_of(breach.aware_at)
    out: dict[str | None, datetime] = {}
    for country in set(countries):
        strictest = obligations.person_deadline(
            derivation, duty.regimes, country=country or "", establishment=duty.establishment
        ).deadline_at
        out[country] = min(promised, strictest) if strictest else promised
    return out


# --- Recorded steps ---------------------------------------------------------------------


async def _open(session: AsyncSession, breach_id: UUID) -> BreachRow:
    breach = await repository.get_breach(session, breach_id, lock=True)
    if breach is None:
        raise BreachNotFound(f"no breach {breach_id}", field="breach_id")
    if breach.closed_at is not None:
        raise BreachClosed(f"breach {breach.reference} is closed", field="breach_id")
    return breach


async def record_assessment(
    sessions: Sessions,
    clock: Clock,
    duty: Duty,
    breach_id: UUID,
    body: AssessmentIn,
    *,
    actor: str,
) -> ObligationsOut:
    """Keep the assessment's conclusion on file and derive the obligations again."""
    now = await clock.now()
    if body.concluded_at > now:
        raise InvalidAssessment("concluded_at is in the future", field="concluded_at")
    async with transaction(sessions) as session:
        breach = await _open(session, breach_id)
        if body.concluded_at < breach.detected_at:
            raise InvalidAssessment(
                "concluded_at is before the breach was detected", field="concluded_at"
            )
        findings = sorted(set(body.findings))
        seq = await obligation_store.add_assessment(
            session,
            breach_id,
            assessed_by=actor,
            concluded_at=body.concluded_at,
            findings=findings,
            sensitive=body.sensitive,
            text_=body.text,
            recorded_at=now,
        )
        repository.add_timeline(
            session,
            breach_id,
            at=now,
            actor=actor,
            action="assessment_recorded",
            detail={
                "seq": seq,
                "concluded_at": body.concluded_at.isoformat(),
                "findings": findings,
                "sensitive": body.sensitive,
            },
        )
        await rederive(session, duty, breach, now=now, actor=actor)
    return await view(sessions, clock, duty, breach_id)


async def record_regulator_notice(
    sessions: Sessions,
    clock: Clock,
    duty: Duty,
    breach_id: UUID,
    regime: str,
    body: RegulatorNoticeIn,
    *,
    actor: str,
) -> ObligationsOut:
    """Record that a regime's regulator was told: the obligation is met, or late."""
    now = await clock.now()
    if body.notified_at > now:
        raise InvalidRegulatorNotice("notified_at is in the future", field="notified_at")
    async with transaction(sessions) as session:
        breach = await _open(session, breach_id)
        rows = await obligation_store.obligations(session, breach_id, lock=True)
        row = next(
            (r for r in rows if r["regime"] == regime and r["recipient"] == "regulator"), None
        )
        if row is None:
            raise ObligationNotFound(
                f"breach {breach.reference} has no obligation to the regulator of regime "
                f"'{regime}'",
                field="path.regime",
            )
        if row["state"] in ("met", "late"):
            raise ObligationAlreadyMet(
                f"the regulator of regime '{regime}' was recorded as told at "
                f"{row['met_at'].isoformat()}",
                field="path.regime",
            )
        if body.notified_at < breach.detected_at:
            raise InvalidRegulatorNotice(
                "notified_at is before the breach was detected", field="notified_at"
            )
        deadline = row["deadline_at"]
        late = deadline is not None and body.notified_at > deadline
        if late and row["late_requires_reasons"] and not body.delay_reasons:
            raise InvalidRegulatorNotice(
                f"told after the deadline ({deadline.isoformat()}): regime '{regime}' asks "
                "for the reasons of the delay",
                field="delay_reasons",
            )
        extended = row["extended_until"]
        evidence = {
            "reference": body.reference,
            "note": body.note,
            "recorded_at": now.isoformat(),
            "beyond_extension": bool(extended and body.notified_at > extended),
        }
        await obligation_store.set_met(
            session,
            breach_id,
            regime,
            "regulator",
            state="late" if late else "met",
            met_at=body.notified_at,
            met_by=actor,
            delay_reasons=body.delay_reasons,
            evidence=evidence,
        )
        repository.add_timeline(
            session,
            breach_id,
            at=now,
            actor=actor,
            action="regulator_notified",
            detail={
                "regime": regime,
                "notified_at": body.notified_at.isoformat(),
                "late": late,
                "reference": body.reference,
            },
        )
    return await view(sessions, clock, duty, breach_id)


# --- Reading ----------------------------------------------------------------------------


def pending_covered(duty: Duty, regime_id: str, pending: dict[str, int]) -> int:
    """How many of the people a regime covers are not yet told nor covered."""
    return sum(n for country, n in pending.items() if duty.covers(regime_id, country))


async def view(sessions: Sessions, clock: Clock, duty: Duty, breach_id: UUID) -> ObligationsOut:
    """The breach's obligations as stored, each with its marks, and its assessments."""
    now = await clock.now()
    async with sessions() as session:
        breach = await repository.get_breach(session, breach_id)
        if breach is None:
            raise BreachNotFound(f"no breach {breach_id}", field="breach_id")
        rows = await obligation_store.obligations(session, breach_id)
        counted = await obligation_store.countries(session, breach_id)
        assessed = await obligation_store.assessments(session, breach_id)
        fired = await obligation_store.marks_of(session, breach_id)
        pending = await obligation_store.pending_by_country(
            session, breach_id, announced=breach.announcement_recorded_at is not None
        )
    derivation = obligations.derive(
        duty.regimes,
        establishment=duty.establishment,
        facts=facts(breach, counted, assessed[-1] if assessed else None),
    )
    order = {r.id: i for i, r in enumerate(duty.regimes)}
    rows.sort(key=lambda r: (order.get(r["regime"], len(order)), r["recipient"] != "regulator"))
    return ObligationsOut(
        breach_id=breach.breach_id,
        establishment=list(duty.establishment),
        people_by_country=counted,
        obligations=[obligation_out(duty, r, fired, pending, now) for r in rows],
        without_duty=[
            WithoutDutyOut(regime=w.regime_id, people=w.people, reason=w.reason)
            for w in derivation.without_duty
        ],
        assessments=[AssessmentOut(**a) for a in assessed],
    )


def obligation_out(
    duty: Duty,
    row: dict[str, Any],
    fired: list[dict[str, Any]],
    pending: dict[str, int],
    now: datetime,
) -> ObligationOut:
    """One stored obligation as the API shows it."""
    regime_id = row["regime"]
    known = regime_id in {r.id for r in duty.regimes}
    regime = duty.regimes[regime_id] if known else None
    deadline = row["deadline_at"]
    return ObligationOut(
        regime=regime_id,
        regime_name=regime.name if regime else regime_id,
        regulator=regime.regulator if regime else regime_id,
        recipient=row["recipient"],
        requirement=row["requirement"],
        reason=row["reason"],
        state=row["state"],
        people=int(row["people"]),
        pending_people=pending_covered(duty, regime_id, pending)
        if row["recipient"] == Recipient.PEOPLE and known
        else None,
        anchor=row["anchor"],
        anchor_at=_utc(row["anchor_at"]),
        anchor_note=row["anchor_note"],
        deadline_rule=row["deadline_rule"],
        deadline_at=_utc(deadline),
        seconds_left=int((deadline - now).total_seconds()) if deadline else None,
        warnings_at=[_utc(w) for w in row["warnings_at"]],
        extended_until=_utc(row["extended_until"]),
        phases_until=_utc(row["phases_until"]),
        no_delay=row["no_delay"],
        late_requires_reasons=row["late_requires_reasons"],
        after_regulator=row["after_regulator"],
        assessment_due_at=_utc(row["assessment_due_at"]),
        assessment_on_file=row["assessment_on_file"],
        content=list(row["content"]),
        form=row["form"],
        unverified=list(row["unverified"]),
        met_at=_utc(row["met_at"]),
        met_by=row["met_by"],
        delay_reasons=row["delay_reasons"],
        evidence=row["evidence"] or {},
        marks=[
            ObligationMarkOut(mark=m["mark"], point_at=m["point_at"], fired_at=m["fired_at"])
            for m in fired
            if m["regime"] == regime_id and m["recipient"] == row["recipient"]
        ],
        disclaimer=row["disclaimer"],
    )


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None
