"""Pure rules of the console: the deadline badge, who may see which pages, durations."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.auth import Role

AMBER_SECONDS = 24 * 3600
"""Under a day left: amber."""
RED_SECONDS = 6 * 3600
"""Under six hours left: red."""


class Tone(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    OVERDUE = "overdue"
    CLOSED = "closed"


@dataclass(frozen=True)
class Badge:
    """What the deadline cell says: a tone (its colour) and the words."""

    tone: Tone
    text: str
    due: str
    """The due date, always shown (UTC)."""


def duration(seconds: int) -> str:
    """``2 d 3 h``, ``5 h 12 min``, ``7 min``; under a minute, ``less than a minute``."""
    seconds = abs(seconds)
    if seconds < 60:
        return "less than a minute"
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def when(instant: datetime | None) -> str:
    """An instant as the pages show it, in UTC to the minute; a dash when absent."""
    if instant is None:
        return "—"
    return instant.strftime("%Y-%m-%d %H:%M UTC")


def deadline_badge(seconds_left: int, deadline_at: datetime, *, closed: bool = False) -> Badge:
    """The deadline as a badge: time left while it is ahead (green, amber under 24 h, red
    under 6 h); once it is past (zero included), the due date and how long overdue;
    never a countdown that reads zero."""
    due = when(deadline_at)
    if closed:
        return Badge(Tone.CLOSED, "closed", due)
    if seconds_left <= 0:
        return Badge(Tone.OVERDUE, f"overdue by {duration(-seconds_left)}", due)
    if seconds_left < RED_SECONDS:
        tone = Tone.RED
    elif seconds_left < AMBER_SECONDS:
        tone = Tone.AMBER
    else:
        tone = Tone.GREEN
    return Badge(tone, f"{duration(seconds_left)} left", due)


class Section(StrEnum):
    """The console's parts, each for some roles."""

    BREACHES = "breaches"
    BREACH_WRITE = "breach_write"
    TRAIL = "trail"
    ADMIN = "admin"
    ME = "me"


ALLOWED: dict[Section, frozenset[Role]] = {
    # as the breach service decides: the security team and the auditors read, the team acts
    Section.BREACHES: frozenset({Role.SECURITY, Role.AUDITOR}),
    Section.BREACH_WRITE: frozenset({Role.SECURITY}),
    # as the audit service decides for the whole trail, violations and recipients
    Section.TRAIL: frozenset({Role.AUDITOR, Role.ADMIN}),
    Section.ADMIN: frozenset({Role.ADMIN}),
    Section.ME: frozenset({Role.SUBJECT}),
}

TITLES: dict[Section, str] = {
    Section.BREACHES: "the breaches",
    Section.BREACH_WRITE: "acting on a breach",
    Section.TRAIL: "the access trail",
    Section.ADMIN: "organisations and grants",
    Section.ME: "a data subject's own pages",
}


def may(role: Role, section: Section) -> bool:
    """Whether ``role`` may see ``section``."""
    return role in ALLOWED[section]


def refusal(role: Role, section: Section) -> str:
    """The sentence a 403 page says."""
    allowed = ", ".join(sorted(r.value for r in ALLOWED[section]))
    return (
        f"Your role, '{role.value}', may not see {TITLES[section]}. These pages are for: {allowed}."
    )


def split_list(text: str) -> list[str]:
    """Words separated by commas, spaces or lines, in order, without repeats or blanks."""
    seen: dict[str, None] = {}
    for word in text.replace(",", " ").split():
        seen.setdefault(word, None)
    return list(seen)


def words(items: Iterable[object]) -> str:
    """Items joined by commas, each as its plain value (a generated model's ``root``)."""
    return ", ".join(str(getattr(item, "root", item)) for item in items)
