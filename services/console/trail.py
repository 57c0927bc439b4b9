"""The auditors' use cases: the access trail filtered and paged, exported exactly as
filtered, an entry checked against the signed log, violations, overdue requests."""

import asyncio
import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Literal

from client import AsyncClient, audit
from client.models.audit import (
    Disclosure,
    EntryOut,
    PublicKey,
    RecipientRequestOut,
    TreeHead,
)
from services.console import forms, proof

DECISIONS = ("allow", "deny")
LEGAL_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interest",
    "public_task",
    "legitimate_interest",
)


@dataclass(frozen=True)
class Filter:
    """The trail's filter as the page's form gives it (text as typed)."""

    organisation: str | None = None
    subject: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    decision: str | None = None
    since: str | None = None
    until: str | None = None

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> "Filter":
        """The filter from a query string; blanks are no filter."""
        return cls(**{f.name: forms.text(params, f.name) for f in fields(cls)})

    def query(self) -> dict[str, str]:
        """The set parts, for links that keep the filter."""
        return {k: v for k, v in vars(self).items() if v is not None}

    def api(self) -> audit.Filters:
        """The audit API's filter."""
        return audit.Filters(
            subject=self.subject,
            organisation=self.organisation,
            purpose=self.purpose,
            legal_basis=self.legal_basis,
            decision=self.decision,
            since=_instant(self.since),
            until=_instant(self.until),
        )


def _instant(value: str | None) -> datetime | None:
    text = forms.instant(value)
    return None if text is None else datetime.fromisoformat(text)


def problems(trail: Filter) -> dict[str, str]:
    """What is wrong with the filter, by field, before any call."""
    found: dict[str, str] = {}
    for name in ("since", "until"):
        value = getattr(trail, name)
        if value is not None:
            try:
                _instant(value)
            except ValueError:
                found[name] = "a date and time, such as 2026-11-20T10:00 (UTC)"
    if trail.decision is not None and trail.decision not in DECISIONS:
        found["decision"] = f"one of {', '.join(DECISIONS)}"
    return found


@dataclass(frozen=True)
class Page:
    """A page of the trail and the cursor of the next one."""

    rows: list[Disclosure]
    next_cursor: int | None


async def page(api: AsyncClient, trail: Filter, *, cursor: int | None, limit: int) -> Page:
    """One page of disclosures in log order, after ``cursor``."""
    call = audit.disclosures(trail.api(), limit=limit)
    if cursor is not None:
        call = replace(call, params={**call.params, "cursor": cursor})
    found = await api.send(call)
    return Page(found.items, found.next_cursor)


def export(api: AsyncClient, trail: Filter, fmt: Literal["csv", "jsonl"]) -> AsyncIterator[bytes]:
    """The audit service's own export of exactly this filter, streamed through."""
    return api.stream(audit.export(trail.api(), format=fmt))


async def violations(api: AsyncClient, *, cursor: int | None, limit: int) -> Page:
    """Disclosures the consent check after the fact found without a valid basis."""
    call = audit.violations(limit=limit)
    if cursor is not None:
        call = replace(call, params={**call.params, "cursor": cursor})
    found = await api.send(call)
    return Page(found.items, found.next_cursor)


async def overdue(
    api: AsyncClient, *, cursor: str | None, limit: int
) -> tuple[list[RecipientRequestOut], str | None]:
    """Requests to recipients of a person's data past their answer-by date."""
    call = audit.recipient_requests(state="overdue", limit=limit)
    if cursor is not None:
        call = replace(call, params={**call.params, "cursor": cursor})
    found = await api.send(call)
    next_cursor = None if found.next_cursor is None else str(found.next_cursor)
    return found.items, next_cursor


async def signed_head(api: AsyncClient, pinned: str | None) -> tuple[TreeHead, PublicKey, str]:
    """The newest signed head, the key to check it with and where that key came from."""
    head, published = await asyncio.gather(
        api.send(audit.latest_tree_head()), api.send(audit.public_key())
    )
    if pinned:
        key = published.model_copy(update={"public_key": pinned})
        return head, key, "pinned in the console's settings"
    return head, published, "as the audit service publishes it at /public-key"


@dataclass(frozen=True)
class Entry:
    """An entry's page: the entry, and its check (None: not in a signed head yet)."""

    entry: EntryOut
    head: TreeHead
    verdict: proof.Verdict | None
    leaf: str


async def entry(api: AsyncClient, seq: int, pinned: str | None, *, check: bool) -> Entry:
    """The entry; with ``check``, its inclusion checked here against the signed head."""
    found, (head, key, source) = await asyncio.gather(
        api.send(audit.entry(seq)), signed_head(api, pinned)
    )
    leaf = base64.b64decode(found.leaf_data).decode("utf-8", "replace")
    if not check or seq >= head.tree_size:
        return Entry(found, head, None, leaf)
    answer = await api.send(audit.inclusion_proof(seq, head.tree_size))
    return Entry(found, head, proof.check(found, head, key, answer, key_source=source), leaf)
