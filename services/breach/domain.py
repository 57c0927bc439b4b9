"""The breach service's rules, free of I/O: the 72-hour clock, the states of a notice,
which outcome of a notice wins, and what closing a breach and the regulator's decision
need.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.breach.exceptions import (
    CannotClose,
    InvalidDecision,
    InvalidDeclaration,
    InvalidNoticeId,
)

DEADLINE = timedelta(hours=72)
"""GDPR Art. 33(1): the supervisory authority is told within 72 hours of awareness."""

NOTICE_PREFIX = "breach"


class NoticeState(StrEnum):
    """What is known of one person's notice; see docs/breach.md for what each proves."""

    REQUESTED = "requested"
    """Asked of the notifier; no outcome yet."""
    DELIVERED = "delivered"
    """A mail server accepted the message (250). Accepted for delivery, not read."""
    UNCERTAIN = "uncertain"
    """Accepted, after a re-send that followed a crash: the person may hold two copies."""
    FAILED = "failed"
    """Not sent (no address, erased, refused) or bounced after acceptance."""
    COVERED_BY_ANNOUNCEMENT = "covered_by_announcement"
    """Failed, and the breach's public announcement tells them instead (Art. 34(3)(c))."""


TEMPORARY_FAILURES = ("retries_exhausted",)
"""Failures a re-send of the whole breach takes again: the notifier gave up at the horizon
on failures that were not the person's (the mail server was down, busy, greylisting)."""

RESENDABLE = ("retries_exhausted", "rejected", "no_contact")
"""Failures a re-send naming people takes again: a refused or missing address may have
been corrected through the registry since. Never ``erased`` (nobody to tell), never
``bounced`` (a mail server accepted it once: one accepted email per notice)."""


class Decision(StrEnum):
    """What the team decided about telling the supervisory authority."""

    REPORT = "report"
    NOT_REPORT = "not_report"


def deadline_of(aware_at: datetime) -> datetime:
    """When the 72 hours from awareness run out."""
    return aware_at + DEADLINE


def notice_id(breach_id: str, user_id: str) -> str:
    """The notice's idempotency key: one email per (breach, person), ever."""
    return f"{NOTICE_PREFIX}:{breach_id}:{user_id}"


def parse_notice_id(value: str) -> tuple[str, str]:
    """The (breach id, user id) a breach notice's id names."""
    prefix, _, rest = value.partition(":")
    breach_id, _, user_id = rest.partition(":")
    if prefix != NOTICE_PREFIX or not breach_id or not user_id:
        raise InvalidNoticeId(f"'{value}' is not a breach notice id", field="notice_id")
    return breach_id, user_id


def reference(year: int, number: int) -> str:
    """The human reference of the ``number``-th breach: BR-2026-0007."""
    return f"BR-{year}-{number:04d}"


def points_due(aware_at: datetime, now: datetime, points: list[int]) -> list[int]:
    """The warning points (hours after awareness) that have passed by ``now``."""
    return [p for p in points if now >= aware_at + timedelta(hours=p)]


def time_left(aware_at: datetime, now: datetime) -> timedelta:
    """What is left of the 72 hours; negative once they ran out."""
    return deadline_of(aware_at) - now


@dataclass(frozen=True)
class Counts:
    """How many of a breach's people are in each state."""

    requested: int = 0
    delivered: int = 0
    uncertain: int = 0
    failed: int = 0
    announced: bool = False

    @property
    def affected(self) -> int:
        """Everyone found so far."""
        return self.requested + self.delivered + self.uncertain + self.failed

    @property
    def notified(self) -> int:
        """People whose notice a mail server accepted (uncertain ones included)."""
        return self.delivered + self.uncertain

    @property
    def unreachable(self) -> int:
        """People who cannot be told one by one (failed or bounced)."""
        return self.failed

    @property
    def covered_by_announcement(self) -> int:
        """Unreachable people a recorded public announcement tells instead."""
        return self.failed if self.announced else 0

    @property
    def pending(self) -> int:
        """People neither notified nor covered by an announcement."""
        return self.affected - self.notified - self.covered_by_announcement

    @property
    def announcement_required(self) -> bool:
        """Some people cannot be reached one by one (GDPR Art. 34(3)(c))."""
        return self.unreachable > 0


def shown_state(state: NoticeState, announced: bool) -> NoticeState:
    """The state shown for a person: a failure covered by an announcement says so."""
    if state is NoticeState.FAILED and announced:
        return NoticeState.COVERED_BY_ANNOUNCEMENT
    return state


@dataclass(frozen=True)
class Outcome:
    """One outcome of a notice as the notifier reported it."""

    failed: bool
    at: datetime
    uncertain: bool = False

    @property
    def state(self) -> NoticeState:
        """The state this outcome leaves the notice in."""
        if self.failed:
            return NoticeState.FAILED
        return NoticeState.UNCERTAIN if self.uncertain else NoticeState.DELIVERED


def supersedes(new: Outcome, last_at: datetime | None, last_state: NoticeState) -> bool:
    """Whether ``new`` replaces the outcome recorded at ``last_at``.

    The later outcome by its own time wins, whatever order the events arrive in: a
    bounce after an acceptance turns it into a failure, and an acceptance reported late
    does not undo a bounce. At the same instant a failure wins (the cautious reading).
    """
    if last_at is None or last_state is NoticeState.REQUESTED:
        return True
    if new.at != last_at:
        return new.at > last_at
    return new.failed and last_state is not NoticeState.FAILED


def check_declaration(
    *,
    now: datetime,
    started_at: datetime | None,
    ended_at: datetime | None,
    detected_at: datetime,
    aware_at: datetime,
) -> None:
    """The declared times are in order and none is in the future."""
    for name, value in (
        ("started_at", started_at),
        ("ended_at", ended_at),
        ("detected_at", detected_at),
        ("aware_at", aware_at),
    ):
        if value is not None and value > now:
            raise InvalidDeclaration(f"{name} is in the future ({value.isoformat()})", field=name)
    if started_at is not None and ended_at is not None and ended_at < started_at:
        raise InvalidDeclaration("ended_at is before started_at", field="ended_at")
    if started_at is not None and detected_at < started_at:
        raise InvalidDeclaration("detected_at is before started_at", field="detected_at")
    if aware_at < detected_at:
        raise InvalidDeclaration(
            "aware_at is before detected_at: the platform cannot be aware of a breach "
            "before it was detected",
            field="aware_at",
        )


def check_decision(
    *,
    decision: Decision,
    reason: str | None,
    reported_at: datetime | None,
    delay_reasons: str | None,
    aware_at: datetime,
    now: datetime,
) -> None:
    """A decision holds what Art. 33 asks of it: why not, or when, and why late."""
    if decision is Decision.NOT_REPORT:
        if not reason:
            raise InvalidDecision(
                "reason: a breach not reported needs the reason (GDPR Art. 33(5))",
                field="reason",
            )
        if reported_at is not None:
            raise InvalidDecision(
                "reported_at: a breach not reported has no report time", field="reported_at"
            )
        return
    if reported_at is None:
        raise InvalidDecision("reported_at: when the authority was told", field="reported_at")
    if reported_at > now:
        raise InvalidDecision("reported_at is in the future", field="reported_at")
    if reported_at < aware_at:
        raise InvalidDecision("reported_at is before aware_at", field="reported_at")
    if reported_at > deadline_of(aware_at) and not delay_reasons:
        raise InvalidDecision(
            "delay_reasons: the authority was told after 72 hours; the reasons for the "
            "delay are required (GDPR Art. 33(1))",
            field="delay_reasons",
        )


def check_can_close(counts: Counts, *, decided: bool, resolving: int = 0) -> None:
    """Closing needs everyone found, notified or covered, and the regulator decision."""
    missing: list[str] = []
    if resolving:
        missing.append(f"{resolving} scopes are still being resolved to people")
    if counts.requested:
        missing.append(f"{counts.requested} people have no outcome yet")
    if counts.unreachable and not counts.announced:
        missing.append(
            f"{counts.unreachable} people cannot be reached and no public announcement is recorded"
        )
    if not decided:
        missing.append("the regulator decision (report or not, with the reason) is not recorded")
    if missing:
        raise CannotClose(
            "the breach cannot be closed: " + "; ".join(missing),
            extra={"missing": missing, "pending": counts.pending},
        )
