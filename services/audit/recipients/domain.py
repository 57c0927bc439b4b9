"""The rules of recipient notices, with no I/O: who is asked, under which key, and a
request's state."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.events import RecipientAction

NOTICE_PREFIX = "recipient:"
_NAMESPACE = uuid.UUID("5b0f6a52-3c1e-4f0e-9d55-6a1f3e0c7a21")
"""Request ids are UUIDv5 of the request key in this namespace: the same key, the same id."""

NONE = "none"
"""A trigger that asks nothing of anyone (a restriction lifted, a rectification of nothing)."""


class State(StrEnum):
    """Where a request stands, derived from its answer and the clock."""

    OUTSTANDING = "outstanding"
    OVERDUE = "overdue"
    CONFIRMED = "confirmed"
    KEPT = "kept"


class Answer(StrEnum):
    CONFIRMED = "confirmed"
    KEPT = "kept"


@dataclass(frozen=True)
class Received:
    """What one organisation received of one person: a category, and when last."""

    organisation: str
    category: str
    last_at: datetime


@dataclass(frozen=True)
class Recipient:
    """One organisation to ask, about these categories, last received then."""

    organisation: str
    categories: tuple[str, ...]
    last_received_at: datetime


def request_key(action: RecipientAction, user_id: str, event_id: uuid.UUID, org: str) -> str:
    """What makes a request one: an erasure is asked once per (person, organisation),
    however many ``user.erased`` events say it; a rectification or a restriction once
    per (triggering event, organisation), so a second rectification asks again."""
    # The user id's length first: ids and slugs may hold the separator themselves.
    if action is RecipientAction.ERASE:
        return f"erase:{len(user_id)}:{user_id}:{org}"
    return f"{action.value}:{event_id}:{org}"


def request_id(key: str) -> uuid.UUID:
    """The request's id, derived from its key."""
    return uuid.uuid5(_NAMESPACE, key)


def notice_id(request: uuid.UUID) -> str:
    """The notifier's idempotency key of a request's notice."""
    return f"{NOTICE_PREFIX}{request}"


def parse_notice_id(value: str) -> uuid.UUID:
    """The request a notice id names; ValueError when it names none."""
    if not value.startswith(NOTICE_PREFIX):
        raise ValueError(f"notice_id: {value!r} does not start with {NOTICE_PREFIX!r}")
    return uuid.UUID(value.removeprefix(NOTICE_PREFIX))


def recipients(
    received: Iterable[Received], action: RecipientAction, changed: Iterable[str] = ()
) -> list[Recipient]:
    """The organisations to ask, by slug: for erasure and restriction every category each
    received; for rectification only those that received a changed category, naming
    just those categories (and when it last received one of them)."""
    wanted = set(changed)
    by_org: dict[str, dict[str, datetime]] = {}
    for row in received:
        if action is RecipientAction.RECTIFY and row.category not in wanted:
            continue
        seen = by_org.setdefault(row.organisation, {})
        seen[row.category] = max(row.last_at, seen.get(row.category, row.last_at))
    return [
        Recipient(org, tuple(sorted(cats)), max(cats.values()))
        for org, cats in sorted(by_org.items())
    ]


def restriction_action(restricted: bool, objected: bool, before: tuple[bool, bool] | None) -> str:
    """``restrict`` when a restriction or an objection is turned on (against what was
    known before; nothing known counts as neither), else ``none``: lifting sends nothing."""
    was_restricted, was_objected = before or (False, False)
    if (restricted and not was_restricted) or (objected and not was_objected):
        return RecipientAction.RESTRICT.value
    return NONE


def state_of(answer: str | None, respond_by: datetime, now: datetime) -> State:
    """Confirmed or kept once answered; before that outstanding, then overdue."""
    if answer is not None:
        return State(answer)
    return State.OVERDUE if now >= respond_by else State.OUTSTANDING
