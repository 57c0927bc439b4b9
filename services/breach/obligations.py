"""Which regulators and people a breach must be reported to, and by when: pure, no I/O.

A breach has one obligation per (regime, recipient), the recipient being the regulator or
the people. A regime concerns a breach when it covers someone affected: a person is
covered by the regime of their country of residence, and by every regime of a country
where the controller is established (the establishment's law covers everyone it affects).
Whether the obligation is required follows the regime's row (``regimes.toml``) from the
people it covers, whether sensitive data are involved and the recorded assessment; its
clock runs from the row's anchor. Deriving again after the scopes grow gives the new
set: :func:`became_required` names the obligations that turned notifiable.

Every computed deadline is computed from its regime's row, not legal advice
(:attr:`Obligation.disclaimer`).
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from services.breach.regimes import (
    Anchor,
    ContentItem,
    PeopleDeadline,
    PeopleRule,
    Regime,
    Regimes,
    RegulatorRule,
    Trigger,
)

WARNING_HOURS_BEFORE = (48, 24, 6)
"""Warnings before each deadline (the 24, 48 and 66 h after awareness of a 72-hour one)."""


class Recipient(StrEnum):
    REGULATOR = "regulator"
    PEOPLE = "people"


class Requirement(StrEnum):
    """Whether an obligation must be met, as far as the facts recorded so far tell."""

    REQUIRED = "required"
    NOT_REQUIRED = "not_required"
    UNDETERMINED = "undetermined"
    """It depends on an assessment not concluded yet, or on a rule not verified; its clock
    (when it has one) runs meanwhile."""


@dataclass(frozen=True)
class Assessment:
    """The recorded conclusion of the breach's risk assessment."""

    concluded_at: datetime
    findings: frozenset[Trigger]
    """The triggers the assessment found met (``risk``, ``high_risk``, ``significant_harm``,
    ``serious_harm``); a trigger it considered and did not find is simply absent."""


@dataclass(frozen=True)
class BreachFacts:
    """What the derivation reads of a breach."""

    detected_at: datetime
    aware_at: datetime
    people_by_country: Mapping[str, int]
    """Affected people by country of residence (ISO 3166-1 alpha-2)."""
    occurred_at: datetime | None = None
    sensitive: bool = False
    """Sensitive categories (or data that may enable identity fraud) are involved."""
    assessment: Assessment | None = None


@dataclass(frozen=True)
class Obligation:
    """One duty of one regime toward one recipient, with its own clock."""

    regime_id: str
    recipient: Recipient
    requirement: Requirement
    reason: str
    people: int
    """The affected people this regime covers."""
    anchor: Anchor
    anchor_at: datetime | None
    """When the clock started; None while it waits for the assessment."""
    anchor_note: str | None
    """How the anchor was read when the row's own is not recorded or not verified."""
    deadline_rule: str
    """``hours``, or the people rule's kind (``same_time_or_after_regulator``,
    ``without_undue_delay``, ``unverified``)."""
    deadline_at: datetime | None
    warnings_at: tuple[datetime, ...]
    extended_until: datetime | None = None
    """The latest a late notice may come, with reasons (Thailand: 15 days)."""
    phases_until: datetime | None = None
    """When phased follow-ups must be complete (Philippines 5 days, Malaysia 30)."""
    no_delay: bool = False
    """No delay is allowed (Philippines: 100 or more people, or sensitive data)."""
    late_requires_reasons: bool = False
    after_regulator: bool = False
    """Not before the regulator is told (Singapore's people)."""
    assessment_due_at: datetime | None = None
    assessment_on_file: bool = False
    content: tuple[ContentItem, ...] = ()
    form: str | None = None
    unverified: tuple[str, ...] = ()
    disclaimer: str = ""

    @property
    def key(self) -> tuple[str, Recipient]:
        return (self.regime_id, self.recipient)

    @property
    def binds(self) -> bool:
        """Whether it binds until shown otherwise (required, or not yet determined)."""
        return self.requirement is not Requirement.NOT_REQUIRED


@dataclass(frozen=True)
class WithoutDuty:
    """A regime that covers someone affected but asks nothing (Laos, Cambodia, Myanmar)."""

    regime_id: str
    people: int
    reason: str


@dataclass(frozen=True)
class Derivation:
    """What a breach owes, as derived from its facts at one moment."""

    obligations: tuple[Obligation, ...]
    without_duty: tuple[WithoutDuty, ...] = ()

    def get(self, regime_id: str, recipient: Recipient) -> Obligation | None:
        """The obligation of ``regime_id`` toward ``recipient``, if the breach has one."""
        for obligation in self.obligations:
            if obligation.key == (regime_id, recipient):
                return obligation
        return None


def covered(regime: Regime, establishment: Collection[str], people: Mapping[str, int]) -> int:
    """How many of the affected people ``regime`` covers."""
    if any(regime.covers(country) for country in establishment):
        return sum(people.values())
    return sum(n for country, n in people.items() if regime.covers(country))


def derive(
    regimes: Regimes,
    *,
    establishment: Collection[str],
    facts: BreachFacts,
    warning_hours_before: Sequence[int] = WARNING_HOURS_BEFORE,
) -> Derivation:
    """Every obligation the breach has, in the file's order of regimes."""
    obligations: list[Obligation] = []
    without: list[WithoutDuty] = []
    for regime in regimes:
        people = covered(regime, establishment, facts.people_by_country)
        if people == 0:
            continue
        if regime.to_regulator is None and regime.to_people is None:
            without.append(WithoutDuty(regime.id, people, f"{regime.law}: {regime.notes}"))
            continue
        anchor_at, note = anchor_time(regime, facts)
        if regime.to_regulator is not None:
            obligations.append(
                _to_regulator(regime, regime.to_regulator, facts, people, anchor_at, note)
            )
        if regime.to_people is not None:
            obligations.append(_to_people(regime, regime.to_people, facts, people, anchor_at, note))
    return Derivation(
        tuple(_with_warnings(o, warning_hours_before) for o in obligations), tuple(without)
    )


def anchor_time(regime: Regime, facts: BreachFacts) -> tuple[datetime | None, str | None]:
    """When the regime's clock started for this breach, and how it was read if not plainly."""
    match regime.anchor:
        case Anchor.AWARENESS:
            return facts.aware_at, None
        case Anchor.DETECTION:
            return facts.detected_at, None
        case Anchor.OCCURRENCE:
            if facts.occurred_at is not None:
                return facts.occurred_at, None
            return facts.detected_at, (
                "when the breach began is not recorded: counted from its detection, so the "
                "real deadline is earlier by however long it went undetected"
            )
        case Anchor.ASSESSMENT_CONCLUDED:
            if facts.assessment is None:
                return None, "waiting for the assessment"
            return facts.assessment.concluded_at, None
        case Anchor.UNVERIFIED:
            times = [t for t in (facts.occurred_at, facts.detected_at, facts.aware_at) if t]
            return min(times), (
                "what starts this clock is not verified: counted from the earliest time "
                "recorded, the strictest reading"
            )
        case Anchor.NONE:
            return None, None


def _requirement(
    rule: RegulatorRule | PeopleRule, min_people: int | None, facts: BreachFacts, people: int
) -> tuple[Requirement, str]:
    if rule.trigger is Trigger.UNVERIFIED:
        return Requirement.UNDETERMINED, "whether this duty applies is not verified"
    if rule.requires_sensitive and not facts.sensitive:
        return Requirement.NOT_REQUIRED, (
            "no sensitive personal data (or data enabling identity fraud) is involved"
        )
    if min_people is not None and people >= min_people:
        return Requirement.REQUIRED, f"{people} people covered, at least {min_people}"
    if rule.trigger is Trigger.ANY:
        return Requirement.REQUIRED, "every breach"
    found = rule.trigger.value.replace("_", " ")
    if facts.assessment is None:
        if rule.presumed:
            presumed = f"presumed until an assessment concludes there is no {found}"
            return Requirement.REQUIRED, presumed
        return Requirement.UNDETERMINED, f"waiting for the assessment: is there {found}?"
    when = facts.assessment.concluded_at.isoformat()
    if rule.trigger in facts.assessment.findings:
        return Requirement.REQUIRED, f"the assessment concluded at {when} found {found}"
    return Requirement.NOT_REQUIRED, f"the assessment concluded at {when} found no {found}"


def _after(anchor_at: datetime | None, *, hours: int = 0, days: int = 0) -> datetime | None:
    if anchor_at is None:
        return None
    return anchor_at + timedelta(hours=hours, days=days)


def _assessment_due(regime: Regime, facts: BreachFacts) -> datetime | None:
    if regime.assessment_expected_days is None or facts.assessment is not None:
        return None
    return facts.detected_at + timedelta(days=regime.assessment_expected_days)


def _unverified(regime: Regime, table: str) -> tuple[str, ...]:
    """The row's unverified fields that bear on ``table`` (its own, and the row's)."""
    return tuple(
        item
        for item in regime.unverified
        if item == table or item.startswith(table + ".") or not item.startswith("to_")
    )


def _to_regulator(
    regime: Regime,
    rule: RegulatorRule,
    facts: BreachFacts,
    people: int,
    anchor_at: datetime | None,
    note: str | None,
) -> Obligation:
    requirement, reason = _requirement(rule, rule.min_people, facts, people)
    no_delay = rule.no_delay_min_people is not None and (
        people >= rule.no_delay_min_people or facts.sensitive
    )
    return Obligation(
        regime_id=regime.id,
        recipient=Recipient.REGULATOR,
        requirement=requirement,
        reason=reason,
        people=people,
        anchor=regime.anchor,
        anchor_at=anchor_at,
        anchor_note=note,
        deadline_rule="hours",
        deadline_at=_after(anchor_at, hours=rule.deadline_hours),
        warnings_at=(),
        extended_until=_after(anchor_at, days=rule.extended_days) if rule.extended_days else None,
        phases_until=_after(anchor_at, days=rule.phase_limit_days)
        if rule.phase_limit_days
        else None,
        no_delay=no_delay,
        late_requires_reasons=rule.late_requires_reasons,
        assessment_due_at=_assessment_due(regime, facts),
        assessment_on_file=regime.assessment_on_file,
        content=rule.content,
        form=rule.form,
        unverified=_unverified(regime, "to_regulator"),
        disclaimer=regime.disclaimer,
    )


def _to_people(
    regime: Regime,
    rule: PeopleRule,
    facts: BreachFacts,
    people: int,
    anchor_at: datetime | None,
    note: str | None,
) -> Obligation:
    requirement, reason = _requirement(rule, None, facts, people)
    hours = rule.deadline_hours if rule.deadline is PeopleDeadline.HOURS else None
    return Obligation(
        regime_id=regime.id,
        recipient=Recipient.PEOPLE,
        requirement=requirement,
        reason=reason,
        people=people,
        anchor=regime.anchor,
        anchor_at=anchor_at,
        anchor_note=note,
        deadline_rule=rule.deadline.value,
        deadline_at=_after(anchor_at, hours=hours) if hours else None,
        warnings_at=(),
        after_regulator=rule.deadline is PeopleDeadline.SAME_TIME_OR_AFTER_REGULATOR,
        assessment_due_at=_assessment_due(regime, facts),
        assessment_on_file=regime.assessment_on_file,
        unverified=_unverified(regime, "to_people"),
        disclaimer=regime.disclaimer,
    )


def _with_warnings(obligation: Obligation, hours_before: Sequence[int]) -> Obligation:
    if obligation.deadline_at is None or obligation.anchor_at is None:
        return obligation
    points = sorted(
        obligation.deadline_at - timedelta(hours=h)
        for h in set(hours_before)
        if obligation.deadline_at - timedelta(hours=h) > obligation.anchor_at
    )
    return replace(obligation, warnings_at=tuple(points))


def became_required(before: Derivation, after: Derivation) -> list[Obligation]:
    """Obligations required now that were not (absent, undetermined or not required) before."""
    was = {o.key for o in before.obligations if o.requirement is Requirement.REQUIRED}
    return [
        o for o in after.obligations if o.requirement is Requirement.REQUIRED and o.key not in was
    ]


@dataclass(frozen=True)
class PersonDeadline:
    """The deadline one person's notice carries: the strictest of the regimes covering them."""

    deadline_at: datetime | None
    """None when no regime covering them sets a fixed time (without undue delay, or none)."""
    regime_id: str | None
    """The regime whose deadline it is."""
    regimes: tuple[str, ...]
    """Every regime with a duty (required or undetermined) to tell this person."""
    after_regulator: tuple[str, ...]
    """Regimes whose regulator must be told first (or at the same time)."""


def person_deadline(
    derivation: Derivation, regimes: Regimes, *, country: str, establishment: Collection[str]
) -> PersonDeadline:
    """The strictest deadline among the people-obligations of the regimes covering ``country``."""
    covering = {r.id for r in _covering(regimes, country, establishment)}
    binding = [
        o
        for o in derivation.obligations
        if o.recipient is Recipient.PEOPLE and o.regime_id in covering and o.binds
    ]
    timed = [o for o in binding if o.deadline_at is not None]
    first = min(timed, key=lambda o: (o.deadline_at, o.regime_id)) if timed else None
    return PersonDeadline(
        deadline_at=first.deadline_at if first else None,
        regime_id=first.regime_id if first else None,
        regimes=tuple(o.regime_id for o in binding),
        after_regulator=tuple(o.regime_id for o in binding if o.after_regulator),
    )


def _covering(regimes: Regimes, country: str, establishment: Iterable[str]) -> list[Regime]:
    found = [r for r in (regimes.of_country(c) for c in (country, *establishment)) if r]
    return list({r.id: r for r in found}.values())
