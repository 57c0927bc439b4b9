"""What detection keeps in memory between batches: each organisation's current hour, its
history (loaded from the schema once, then kept up to date), what it has seen, the grants,
and the levels each rule has fired at. The service applies events to it and stores what
changed in the same transaction as the alerts (``service.py``).
"""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from services.detection import domain
from services.detection.config import DetectionSettings, RuleSettings
from services.detection.domain import Counted, Firing, History, HourState, Knobs, hour_of
from services.detection.repository import Grant
from shared.events import DataAccessed, Decision, Rule

PLATFORM = ""
"""The ``watched`` and ``seen`` rows of the whole platform (producers)."""


def knobs(rules: RuleSettings) -> Knobs:
    """The domain's view of a rule settings object."""
    return Knobs(
        rate_factor=rules.rate_factor,
        rate_min_reads=rules.rate_min_reads,
        breadth_factor=rules.breadth_factor,
        breadth_min_subjects=rules.breadth_min_subjects,
        refusal_factor=rules.refusal_factor,
        refusal_min=rules.refusal_min,
        violations_min=rules.violations_min,
        learning_hours=rules.learning_hours,
        disabled=frozenset(rules.disabled),
        sustained_hours=rules.sustained_hours,
        sustained_factor=rules.sustained_factor,
        sustained_min_reads=rules.sustained_min_reads,
    )


@dataclass
class Changes:
    """What one batch changed: to store, and the firings to raise."""

    hours: dict[tuple[str, datetime], Counted] = field(default_factory=dict)
    watched: dict[str, datetime] = field(default_factory=dict)
    seen: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    firings: list[tuple[Firing, int]] = field(default_factory=list)
    judge: set[str] = field(default_factory=set)
    levels: dict[tuple[Rule, str, datetime, str], int] = field(default_factory=dict)


@dataclass
class Watch:
    """The in-memory state of detection (one per process; see ``docs/detection.md`` on
    replicas)."""

    settings: DetectionSettings
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loaded: bool = False
    histories: dict[str, History] = field(default_factory=dict)
    current: dict[str, HourState] = field(default_factory=dict)
    violation_hours: dict[str, HourState] = field(default_factory=dict)
    watched: dict[str, datetime] = field(default_factory=dict)
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    grants: dict[str, Grant] = field(default_factory=dict)
    fired: dict[tuple[Rule, str, datetime, str], int] = field(default_factory=dict)
    """The highest level each rule fired at, per organisation and hour."""

    def reset(self) -> None:
        """Forget everything (a batch failed half-applied): reloaded from the schema."""
        self.loaded = False
        self.histories.clear()
        self.current.clear()
        self.violation_hours.clear()
        self.fired.clear()

    def knobs_for(self, org: str) -> Knobs:
        return knobs(self.settings.rules_for(org))

    def _watch(self, key: str, at: datetime, changes: Changes) -> None:
        first = self.watched.get(key)
        if first is None or at < first:
            self.watched[key] = at
            changes.watched[key] = at

    def _see(self, kind: str, org: str, value: str, at: datetime, changes: Changes) -> bool:
        """Remember a thing; True if it was new."""
        item = (kind, org, value)
        if item in self.seen:
            return False
        self.seen.add(item)
        changes.seen[item] = at
        return True

    def hour_state(self, org: str, hour: datetime, stored: Counted | None) -> HourState:
        """The organisation's state for ``hour``, moving the previous hour to its history."""
        state = self.current.get(org)
        if state is not None and state.hour == hour:
            return state
        history = self.histories.setdefault(org, History())
        if state is not None:
            history.add(state.hour, state.counted())
        stored = stored or history.hours.pop(hour, None) or Counted()
        state = HourState(
            hour, reads=stored.reads, refusals=stored.refusals, stored_subjects=stored.subjects
        )
        self.current[org] = state
        history.prune(hour - (self.settings.baseline_weeks + 1) * domain.WEEK)
        return state

    def apply(self, event: DataAccessed, changes: Changes) -> None:
        """Count one disclosure (or refusal); note what it shows that is new."""
        p = event.payload
        org, at = p.organisation_id, p.accessed_at
        hour = hour_of(at)
        state = self.current.get(org)
        if state is not None and hour < state.hour:
            # Late: counted in its hour's history, not judged (that hour is over). Its
            # people are not kept, so a late read counts as a new person (at most as many
            # as the hour's reads): the hour's "most people" errs high, never low.
            history = self.histories.setdefault(org, History())
            old = history.hours.get(hour, Counted())
            refused = p.decision is Decision.DENY
            reads = old.reads + (0 if refused else 1)
            late = Counted(
                reads,
                old.refusals + (1 if refused else 0),
                min(old.subjects + (0 if refused else 1), reads),
            )
            history.add(hour, late)
            changes.hours[(org, hour)] = late
            return
        state = self.hour_state(org, hour, None)
        self._novelty(event, changes)
        if p.decision is Decision.DENY:
            state.refusals += 1
            state.refused_first_at = min(state.refused_first_at or at, at)
            state.refused_last_at = max(state.refused_last_at or at, at)
        else:
            state.reads += 1
            if len(state.subjects) < self.settings.max_subjects_tracked:
                state.subjects.add(p.subject_id)
            state.categories.update(p.fields)
            state.first_at = min(state.first_at or at, at)
            state.last_at = max(state.last_at or at, at)
            self._grants(event, changes)
        changes.hours[(org, hour)] = state.counted()
        changes.judge.add(org)
        self._watch(org, at, changes)
        self._watch(PLATFORM, at, changes)

    def _novelty(self, event: DataAccessed, changes: Changes) -> None:
        p = event.payload
        org, at = p.organisation_id, p.accessed_at
        k = self.knobs_for(org)
        platform_since, org_since = self.watched.get(PLATFORM), self.watched.get(org)
        checks = [(Rule.NEW_PRODUCER, "producer", PLATFORM, event.producer, platform_since)]
        if p.decision is not Decision.DENY:  # a refused read shows no channel or purpose used
            checks += [
                (Rule.NEW_CHANNEL, "channel", org, p.channel, org_since),
                (Rule.NEW_PURPOSE, "purpose", org, p.purpose, org_since),
            ]
        for rule, kind, owner, value, since in checks:
            # Remembered whether or not it is news (the learning period sees it too).
            new = self._see(kind, owner, value, at, changes)
            if new and k.on(rule) and domain.is_new(since, at, k.learning_hours):
                firing = domain.novelty(
                    rule,
                    org,
                    producer=event.producer,
                    channel=p.channel,
                    what=value,
                    at=at,
                    categories=p.fields,
                )
                changes.firings.append((firing, 0))

    def _grants(self, event: DataAccessed, changes: Changes) -> None:
        p = event.payload
        grant = self.grants.get(p.grant_id) if p.grant_id else None
        if grant is None or grant.organisation_id != p.organisation_id:
            return
        k = self.knobs_for(p.organisation_id)
        outside = domain.outside_grant(p.fields, grant.data_categories)
        if outside and k.on(Rule.CATEGORY_OUTSIDE_GRANT):
            firing = domain.grant_firing(
                Rule.CATEGORY_OUTSIDE_GRANT,
                p.organisation_id,
                grant_id=grant.grant_id,
                at=p.accessed_at,
                categories=outside,
            )
            changes.firings.append((firing, 0))
        if p.accessed_at >= grant.ends and k.on(Rule.READ_AFTER_GRANT_END):
            firing = domain.grant_firing(
                Rule.READ_AFTER_GRANT_END,
                p.organisation_id,
                grant_id=grant.grant_id,
                at=p.accessed_at,
                categories=p.fields,
                ends=grant.ends,
            )
            changes.firings.append((firing, 0))

    def violation(self, org: str, seq: int, at: datetime, changes: Changes) -> None:
        """Count one consent violation the audit check found."""
        hour = hour_of(at)
        state = self.violation_hours.get(org)
        if state is None or state.hour < hour:
            state = self.violation_hours[org] = HourState(hour)
        elif hour < state.hour:
            return  # a late one: its hour was judged already
        state.violations += 1
        state.violation_seqs.append(seq)
        state.violations_first_at = min(state.violations_first_at or at, at)
        state.violations_last_at = max(state.violations_last_at or at, at)
        changes.judge.add(org)

    def judge(self, changes: Changes) -> None:
        """Run the hour rules on the organisations the batch touched; keep the firings
        whose level is above what fired before."""
        weeks = self.settings.baseline_weeks
        for org in sorted(changes.judge):
            history = self.histories.setdefault(org, History())
            k = self.knobs_for(org)
            for state in (self.current.get(org), self.violation_hours.get(org)):
                if state is None:
                    continue
                for firing, lvl in domain.judge_hour(org, state, history, k, weeks=weeks):
                    # One level per rule, hour and check (the sustained one has its own).
                    key = (firing.rule, org, state.hour, firing.key.rsplit("|", 1)[0])
                    if lvl > self.fired.get(key, -1):
                        changes.firings.append((firing, lvl))
                        changes.levels[key] = lvl

    def mark_fired(self, changes: Changes) -> None:
        """Remember the levels raised (after their transaction committed)."""
        for key, lvl in changes.levels.items():
            self.fired[key] = max(self.fired.get(key, -1), lvl)
