"""The notifier's rules, without I/O: keys, Message-IDs, states, and what SMTP replies mean.

A notice is identified by its ``notice_id`` (the idempotency key the requester chose);
everything else about sending it once is derived from that key: its Message-ID, and the
one row that holds its state.
"""

import hashlib
import random
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

FALLBACK_LANGUAGE = "en"


class State(StrEnum):
    """Where a notice stands; each state says exactly what is known, no more."""

    CLAIMED = "claimed"
    """Claimed for sending, no outcome recorded yet: it may be on its way."""
    ACCEPTED = "accepted"
    """A mail server answered 250 to the message: accepted for delivery, not read."""
    FAILED = "failed"
    """Not sent: no address, erased, refused (5xx), or temporary failures until the
    notice's horizon (its deadline less the retry margin)."""
    BOUNCED = "bounced"
    """Accepted, then reported undeliverable by a delivery status notification."""


OUTCOMES = frozenset({State.ACCEPTED, State.FAILED, State.BOUNCED})
"""States that end a notice's sending: none of them is ever sent again."""


class Reason(StrEnum):
    """Why a notice failed (the ``reason`` of ``notification.failed``)."""

    NO_CONTACT = "no_contact"
    ERASED = "erased"
    REJECTED = "rejected"
    RETRIES_EXHAUSTED = "retries_exhausted"
    BOUNCED = "bounced"


class Severity(StrEnum):
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


class Failure(StrEnum):
    """What one failed attempt says, and so what happens next (docs/notifier.md)."""

    SERVER = "server"
    """No session could be opened (refused, time-out, 421 greeting, TLS, authentication):
    the server's failure, not the message's. Every notice waits for it; no attempt spent."""
    SLOW_DOWN = "slow_down"
    """421, 450 or 451 saying to slow down: the rate is lowered; no attempt spent."""
    TEMPORARY = "temporary"
    """Any other 4xx, or a session lost mid-message: retried with backoff until the
    notice's horizon."""
    PERMANENT = "permanent"
    """5xx: final at once (``rejected``)."""


_SLOW_DOWN = re.compile(
    r"slow(?:ing)? down|rate[- ]?limit|too (?:many|fast)|throttl|exceeded", re.IGNORECASE
)


def failure_of(code: int, reply: str) -> Failure:
    """What a reply to a command of a transaction means for the notice."""
    if classify(code) is Severity.PERMANENT:
        return Failure.PERMANENT
    if code in (421, 450, 451) and _SLOW_DOWN.search(reply):
        return Failure.SLOW_DOWN
    return Failure.TEMPORARY


def horizon(deadline_at: datetime | None, margin_hours: float) -> datetime | None:
    """The last moment a notice's temporary failures are retried: its deadline less the
    margin (None: no deadline, retried as long as the service runs)."""
    if deadline_at is None:
        return None
    return deadline_at - timedelta(hours=margin_hours)


def backoff(attempts: int, first: float, longest: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: exponential (``first``,
    doubling, at most ``longest``) with full jitter, so that notices failed together do
    not come back together."""
    ceiling = min(longest, first * 2 ** max(0, min(attempts - 1, 60)))
    return (rng or random).uniform(0, ceiling)


def message_id(notice_id: str, domain: str) -> str:
    """The RFC 5322 Message-ID of a notice: the same for every copy ever sent of it."""
    digest = hashlib.sha256(notice_id.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def classify(code: int) -> Severity:
    """4xx is temporary (try again later), 5xx permanent (RFC 5321 section 4.2.1)."""
    return Severity.PERMANENT if 500 <= code <= 599 else Severity.TEMPORARY


_QUEUE_ID = re.compile(r"(?:queued as|id=|queue id)\s*:?\s*([A-Za-z0-9._@<>-]+)", re.IGNORECASE)


def queue_id(reply: str) -> str | None:
    """The server's queue id in a 250 reply, when it names one (Postfix, Exim, Sendmail)."""
    match = _QUEUE_ID.search(reply)
    return match.group(1) if match else None


def choose_language(requested: str | None, available: Collection[str]) -> str:
    """The template language for a BCP 47 tag: exact, then its primary subtag, then English."""
    if requested:
        tag = requested.strip().lower().replace("_", "-")
        for candidate in (tag, tag.split("-")[0]):
            if candidate in available:
                return candidate
    return FALLBACK_LANGUAGE


COUNTRY_LANGUAGES = {
    "TH": "th",
    "ID": "id",
    "MY": "ms",
    "BN": "ms",
    "VN": "vi",
    "PH": "fil",
    "KH": "km",
    "LA": "lo",
    "MM": "my",
    "CN": "zh",
}
"""The template language an organisation is written to in, by its country (ISO 3166-1),
where its kind has templates in that language; English for every other country
(Singapore among them), and when none is known."""


def language_of_country(country: str | None) -> str | None:
    """The language of a country where the notifier has templates for it, else None."""
    return COUNTRY_LANGUAGES.get((country or "").strip().upper())


@dataclass(frozen=True)
class Recipient:
    """Where a notice goes and how to address it."""

    address: str
    name: str | None
    language: str | None


@dataclass(frozen=True)
class Notice:
    """One notice to send once: its key, its template and what the template says."""

    notice_id: str
    kind: str
    user_id: str | None
    breach_id: str | None
    requested_at: datetime
    context: dict[str, Any] = field(hash=False, compare=False)
    organisation: str | None = None
    """Set when the notice goes to an organisation's privacy contact, not to the person
    ``user_id`` names (a recipient notice: the person may be erased already)."""
    deadline_at: datetime | None = None
    """When the recipient must have been told by: its horizon is this less the margin."""
    resend: int = 0
    """0, or the n-th re-send asked for: a failed notice is claimed again (same key, same
    Message-ID); an accepted one never."""


@dataclass(frozen=True)
class Outcome:
    """What became of a notice: what its row and its outcome event record."""

    notice_id: str
    kind: str
    user_id: str | None
    breach_id: str | None
    state: State
    at: datetime
    message_id: str
    attempts: int
    uncertain: bool = False
    smtp_code: int | None = None
    smtp_reply: str | None = None
    queue_id: str | None = None
    reason: Reason | None = None
    detail: str | None = None
    language: str | None = None
    organisation: str | None = None
