"""The rules, pure: what an hour of an organisation's disclosures looks like against its
history, and which rules that fires. No I/O; the service feeds it and stores its results.

Time is event time (``accessed_at``), bucketed by the hour: baselines are learned per
organisation and hour of the week from the hourly counts the service keeps in its schema.
"""

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.events import AUDIT_SEQS_CAP, Rule

HOUR = timedelta(hours=1)
WEEK = timedelta(weeks=1)
DAY = timedelta(days=1)
NAMESPACE = uuid.UUID("5b1f2a7e-63c4-4f6e-9d0b-8a3c2e7d1f40")
"""Alert ids are derived from what fired, so the same firing after a restart (or a
redelivered batch) has the same id and is not raised twice."""


class Family:
    """Alerts of one family about the same organisation (and producer) merge into one
    incident while it is open."""

    VOLUME = "volume"
    BREADTH = "breadth"
    REFUSALS = "refusals"
    VIOLATIONS = "violations"
    NOVELTY = "novelty"


FAMILY: dict[Rule, str] = {
    Rule.VOLUME_RATE: Family.VOLUME,
    Rule.VOLUME_BREADTH: Family.VOLUME,
    Rule.CATEGORY_OUTSIDE_GRANT: Family.BREADTH,
    Rule.READ_AFTER_GRANT_END: Family.BREADTH,
    Rule.NEW_PURPOSE: Family.BREADTH,
    Rule.REFUSAL_BURST: Family.REFUSALS,
    Rule.CONSENT_VIOLATIONS: Family.VIOLATIONS,
    Rule.NEW_PRODUCER: Family.NOVELTY,
    Rule.NEW_CHANNEL: Family.NOVELTY,
}


def hour_of(at: datetime) -> datetime:
    """The start of the hour ``at`` falls in, in UTC."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Counted:
    """An hour of an organisation, as stored: reads, refusals, distinct people."""

    reads: int = 0
    refusals: int = 0
    subjects: int = 0


@dataclass
class History:
    """An organisation's hourly counts before the current hour, and since when it is watched."""

    first_hour: datetime | None = None
    hours: dict[datetime, Counted] = field(default_factory=dict)

    def add(self, hour: datetime, counted: Counted) -> None:
        """Keep an hour's counts (the latest for that hour wins)."""
        self.hours[hour] = counted
        if self.first_hour is None or hour < self.first_hour:
            self.first_hour = hour

    def prune(self, before: datetime) -> None:
        """Forget hours older than ``before`` (the first hour is remembered)."""
        for hour in [h for h in self.hours if h < before]:
            del self.hours[hour]

    def usual(self, hour: datetime, weeks: int, pick: str) -> float | None:
        """The usual count (``pick``: reads or refusals) for ``hour``: the mean of the same
        hour of the week over the past weeks watched; without a week of history, of the
        same hour of the day over the past days; None without a day."""
        if self.first_hour is None or self.first_hour >= hour:
            return None
        for step, most in ((WEEK, weeks), (DAY, 7 * weeks)):
            past = [hour - k * step for k in range(1, most + 1)]
            past = [h for h in past if h >= self.first_hour]
            if past:
                return sum(getattr(self.hours.get(h, Counted()), pick) for h in past) / len(past)
        return None

    def most_subjects(self, before: datetime) -> int:
        """The most distinct people the organisation read in any one hour before ``before``."""
        return max((c.subjects for h, c in self.hours.items() if h < before), default=0)


@dataclass
class HourState:
    """The current hour of one organisation, as it is being read."""

    hour: datetime
    reads: int = 0
    refusals: int = 0
    stored_subjects: int = 0
    """Distinct people counted before a restart (the set itself is not kept)."""
    subjects: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    first_at: datetime | None = None
    last_at: datetime | None = None
    refused_first_at: datetime | None = None
    refused_last_at: datetime | None = None
    violations: int = 0
    violation_seqs: list[int] = field(default_factory=list)
    violations_first_at: datetime | None = None
    violations_last_at: datetime | None = None

    @property
    def distinct(self) -> int:
        """Distinct people this hour: after a restart, at least what was stored."""
        return max(self.stored_subjects, len(self.subjects))

    def counted(self) -> Counted:
        return Counted(self.reads, self.refusals, self.distinct)


@dataclass(frozen=True)
class Firing:
    """A rule that fired, with its evidence; ``key`` makes its alert id."""

    rule: Rule
    organisation_id: str | None
    producer: str | None
    channel: str | None
    window_start: datetime
    window_end: datetime
    data_categories: tuple[str, ...]
    reads: int = 0
    subjects: int = 0
    refusals: int = 0
    violations: int = 0
    baseline: float | None = None
    threshold: float | None = None
    audit_seqs: tuple[int, ...] = ()
    audit_seqs_total: int = 0
    key: str = ""
    summary: str = ""

    @property
    def family(self) -> str:
        return FAMILY[self.rule]

    def alert_id(self) -> uuid.UUID:
        """The same firing, however often it is judged, has the same id."""
        parts = (self.rule, self.organisation_id, self.producer, self.channel, self.key)
        return uuid.uuid5(NAMESPACE, "|".join(str(p or "") for p in parts))


def level(count: float, threshold: float) -> int | None:
    """Which doubling of the threshold ``count`` reached (0 at the threshold), or None
    below it: a rule fires again, into the same incident, each time the count doubles."""
    if count < threshold or threshold <= 0:
        return None
    return math.floor(math.log2(count / threshold))


@dataclass(frozen=True)
class Knobs:
    """The rule settings as the domain reads them (``config.RuleSettings``)."""

    rate_factor: float
    rate_min_reads: int
    breadth_factor: float
    breadth_min_subjects: int
    refusal_factor: float
    refusal_min: int
    violations_min: int
    learning_hours: int
    disabled: frozenset[str]
    sustained_hours: int = 6
    sustained_factor: float = 3.0
    sustained_min_reads: int = 300

    def on(self, rule: Rule) -> bool:
        return rule.value not in self.disabled


def sustained(
    org: str, state: HourState, history: History, knobs: Knobs, *, weeks: int
) -> list[tuple[Firing, int]]:
    """volume_rate over the last ``sustained_hours`` hours: a slow exfiltration reads a few
    times the usual for hours, never enough in one hour for the hourly threshold."""
    n = knobs.sustained_hours
    if n < 2 or not knobs.on(Rule.VOLUME_RATE) or state.last_at is None:
        return []
    span = [state.hour - k * HOUR for k in range(n)]
    usual = [history.usual(h, weeks, "reads") for h in span]
    if any(u is None for u in usual):
        return []
    expected = sum(u or 0.0 for u in usual)
    reads = state.reads + sum(history.hours.get(h, Counted()).reads for h in span[1:])
    threshold = max(float(knobs.sustained_min_reads), knobs.sustained_factor * expected)
    lvl = level(reads, threshold)
    if lvl is None:
        return []
    stamp = state.hour.isoformat()
    firing = Firing(
        Rule.VOLUME_RATE,
        org,
        None,
        None,
        span[-1],
        state.last_at,
        tuple(sorted(state.categories)),
        reads=reads,
        subjects=state.distinct,
        baseline=expected,
        threshold=threshold,
        key=f"{stamp}|sustained|{lvl}",
        summary=f"{org} read {reads} times in the {n} hours to {state.last_at.isoformat()}, "
        f"against {expected:.1f} usually in those hours of the week.",
    )
    return [(firing, lvl)]


def judge_hour(
    org: str, state: HourState, history: History, knobs: Knobs, *, weeks: int
) -> list[tuple[Firing, int]]:
    """The volume, refusal and violation rules on an organisation's current hour: each
    firing with its level (fire again, into the same incident, each time it doubles)."""
    out: list[tuple[Firing, int]] = []
    hour = state.hour
    stamp = hour.isoformat()
    categories = tuple(sorted(state.categories))
    if state.first_at is not None and state.last_at is not None:
        out += sustained(org, state, history, knobs, weeks=weeks)
        usual = history.usual(hour, weeks, "reads")
        if knobs.on(Rule.VOLUME_RATE) and usual is not None:
            threshold = max(float(knobs.rate_min_reads), knobs.rate_factor * usual)
            if (lvl := level(state.reads, threshold)) is not None:
                firing = Firing(
                    Rule.VOLUME_RATE,
                    org,
                    None,
                    None,
                    state.first_at,
                    state.last_at,
                    categories,
                    reads=state.reads,
                    subjects=state.distinct,
                    baseline=usual,
                    threshold=threshold,
                    key=f"{stamp}|{lvl}",
                    summary=f"{org} read {state.reads} times in the hour from {stamp}, "
                    f"against {usual:.1f} usually at that hour of the week.",
                )
                out.append((firing, lvl))
        most = history.most_subjects(hour)
        if knobs.on(Rule.VOLUME_BREADTH):
            threshold = max(float(knobs.breadth_min_subjects), knobs.breadth_factor * most)
            if (lvl := level(state.distinct, threshold)) is not None:
                firing = Firing(
                    Rule.VOLUME_BREADTH,
                    org,
                    None,
                    None,
                    state.first_at,
                    state.last_at,
                    categories,
                    reads=state.reads,
                    subjects=state.distinct,
                    baseline=float(most),
                    threshold=threshold,
                    key=f"{stamp}|{lvl}",
                    summary=f"{org} read {state.distinct} distinct people in the hour from "
                    f"{stamp}; the most it ever read in an hour was {most}.",
                )
                out.append((firing, lvl))
    if state.refused_first_at is not None and state.refused_last_at is not None:
        usual = history.usual(hour, weeks, "refusals")
        if knobs.on(Rule.REFUSAL_BURST):
            threshold = max(float(knobs.refusal_min), knobs.refusal_factor * (usual or 0.0))
            if (lvl := level(state.refusals, threshold)) is not None:
                firing = Firing(
                    Rule.REFUSAL_BURST,
                    org,
                    None,
                    None,
                    state.refused_first_at,
                    state.refused_last_at,
                    categories,
                    refusals=state.refusals,
                    baseline=usual,
                    threshold=threshold,
                    key=f"{stamp}|{lvl}",
                    summary=f"{org} was refused {state.refusals} reads in the hour from "
                    f"{stamp}: enumeration, or a token trying its luck.",
                )
                out.append((firing, lvl))
    first, last = state.violations_first_at, state.violations_last_at
    if first is not None and last is not None and knobs.on(Rule.CONSENT_VIOLATIONS):
        threshold = float(knobs.violations_min)
        if (lvl := level(state.violations, threshold)) is not None:
            seqs = tuple(sorted(state.violation_seqs)[:AUDIT_SEQS_CAP])  # in log order
            firing = Firing(
                Rule.CONSENT_VIOLATIONS,
                org,
                None,
                None,
                first,
                last,
                (),
                violations=state.violations,
                threshold=threshold,
                audit_seqs=seqs,
                audit_seqs_total=state.violations,
                key=f"{stamp}|{lvl}",
                summary=f"The audit check found {state.violations} disclosures to {org} "
                f"without a valid consent or basis in the hour from {stamp}.",
            )
            out.append((firing, lvl))
    return out


def is_new(first_seen: datetime | None, at: datetime, learning_hours: int) -> bool:
    """Whether something unseen at ``at`` is news: only once the watching (since
    ``first_seen``) has lasted the learning period; before that everything is new."""
    return first_seen is not None and at - first_seen >= timedelta(hours=learning_hours)


def novelty(
    rule: Rule,
    org: str,
    *,
    producer: str | None,
    channel: str | None,
    what: str,
    at: datetime,
    categories: Iterable[str],
) -> Firing:
    """A firing of a rule about something never seen before (one alert per thing)."""
    text = {
        Rule.NEW_PRODUCER: f"A producer never seen before, {what!r}, disclosed data to {org}.",
        Rule.NEW_CHANNEL: f"{org} received data through a channel it never used, {what!r}.",
        Rule.NEW_PURPOSE: f"{org} read data for a purpose it never used, {what!r}.",
    }[rule]
    return Firing(
        rule,
        org,
        producer,
        channel,
        at,
        at,
        tuple(sorted(categories)),
        reads=1,
        subjects=1,
        key=f"{rule}|{what}",
        summary=text,
    )


def grant_firing(
    rule: Rule,
    org: str,
    *,
    grant_id: str,
    at: datetime,
    categories: Iterable[str],
    ends: datetime | None = None,
) -> Firing:
    """A read the organisation's grant does not cover (one alert per grant and hour)."""
    cats = tuple(sorted(categories))
    if rule is Rule.READ_AFTER_GRANT_END:
        summary = f"{org} read data under grant {grant_id} after it ended ({ends})."
    else:
        summary = f"{org} read {', '.join(cats)} outside what grant {grant_id} covers."
    return Firing(
        rule,
        org,
        None,
        None,
        at,
        at,
        cats,
        reads=1,
        subjects=1,
        key=f"{grant_id}|{hour_of(at).isoformat()}",
        summary=summary,
    )


def outside_grant(fields: Iterable[str], granted: Iterable[str]) -> list[str]:
    """The fields a grant does not name."""
    return sorted(set(fields) - set(granted))
