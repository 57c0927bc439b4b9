"""Audit rules: how an entry becomes a leaf, what a tree head signs, and the consent
check after the fact. Pure functions, no I/O; the tree itself is in ``merkle.py``.

An entry's leaf commits to every field of the disclosure. The one personal field (the
subject's country) is committed through a salted digest and kept in a separate row,
so erasure deletes that row and the leaf, and every proof through it, stays valid.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import msgspec

TREE_HEAD_PREFIX = b"privacy-events audit tree head v1\n"

_encoder = msgspec.json.Encoder(order="sorted")


def timestamp(value: datetime) -> str:
    """UTC with microseconds, ``2026-11-23T09:30:00.000000Z``: the same text from the
    event and from the database."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8 (as Python's ``json.dumps`` with
    ``sort_keys=True, separators=(",", ":"), ensure_ascii=False`` writes it)."""
    return _encoder.encode(value)


def personal_digest(salt: bytes, subject_country: str | None) -> bytes:
    """The commitment to the entry's personal part: SHA-256(salt || 0x00 || country or
    empty); useless without the salt."""
    return hashlib.sha256(salt + b"\x00" + (subject_country or "").encode()).digest()


class Entry(msgspec.Struct, frozen=True, gc=False):
    """One disclosure as the log keeps it (everything but its position)."""

    event_id: str
    producer: str
    accessed_at: datetime
    recorded_at: datetime
    organisation_id: str
    organisation_country: str | None
    actor: str
    subject_id: str
    fields: tuple[str, ...]
    purpose: str
    legal_basis: str
    legal_reference: str | None
    channel: str
    decision: str
    decision_reason: str | None
    consent_id: str | None
    consent_version: int | None
    grant_id: str | None
    personal_digest: bytes

    def leaf(self, recorded_at: str | None = None) -> bytes:
        """The leaf data the Merkle tree hashes (RFC 6962 ``leaf_input``). A batch shares
        one ``recorded_at``, so its writer passes the text in rather than format it again."""
        return canonical(
            {
                "event_id": self.event_id,
                "producer": self.producer,
                "accessed_at": timestamp(self.accessed_at),
                "recorded_at": recorded_at or timestamp(self.recorded_at),
                "organisation_id": self.organisation_id,
                "organisation_country": self.organisation_country,
                "actor": self.actor,
                "subject_id": self.subject_id,
                "fields": self.fields,
                "purpose": self.purpose,
                "legal_basis": self.legal_basis,
                "legal_reference": self.legal_reference,
                "channel": self.channel,
                "decision": self.decision,
                "decision_reason": self.decision_reason,
                "consent_id": self.consent_id,
                "consent_version": self.consent_version,
                "grant_id": self.grant_id,
                "personal_digest": self.personal_digest.hex(),
            }
        )


def tree_head_message(tree_size: int, root: bytes, signed_at: datetime) -> bytes:
    """The bytes an Ed25519 tree-head signature covers."""
    millis = int(signed_at.timestamp() * 1000)
    return TREE_HEAD_PREFIX + f"{tree_size}\n{root.hex()}\n{millis}".encode()


class Verdict(StrEnum):
    VALID = "valid"
    VIOLATION = "violation"
    NOT_DISCLOSED = "not_disclosed"


@dataclass(frozen=True)
class ConsentChange:
    consent_id: str
    version: int
    action: str
    user_id: str
    purpose: str
    organisation: str | None
    country: str | None
    at: datetime
    valid_until: datetime | None


def awaits_history(entry: Entry, changes: Iterable[ConsentChange]) -> bool:
    """The entry names a consent the history has not heard of yet: its events may be late."""
    if entry.decision != "allow" or entry.legal_basis != "consent" or not entry.consent_id:
        return False
    return not any(c.consent_id == entry.consent_id for c in changes)


def check(entry: Entry, changes: Iterable[ConsentChange]) -> tuple[Verdict, str]:
    """Had this disclosure a valid consent, grant or legal basis when it happened?"""
    if entry.decision != "allow":
        return Verdict.NOT_DISCLOSED, "refused at the time; nothing was disclosed"
    if entry.legal_basis == "legal_obligation":
        if entry.legal_reference:
            return Verdict.VALID, f"legal obligation: {entry.legal_reference}"
        return Verdict.VIOLATION, "legal obligation claimed without a reference"
    if entry.legal_basis in ("contract", "legitimate_interest", "vital_interest", "public_task"):
        return Verdict.VALID, f"legal basis '{entry.legal_basis}' decided by the consent service"
    if entry.consent_id is None:
        return Verdict.VIOLATION, "disclosed on consent, but no consent was named"
    history = sorted(
        (c for c in changes if c.consent_id == entry.consent_id), key=lambda c: c.version
    )
    if not history:
        return Verdict.VIOLATION, f"consent {entry.consent_id} is unknown to the consent history"
    state = None
    for change in history:
        if change.at <= entry.accessed_at:
            state = change
    if state is None:
        return Verdict.VIOLATION, f"consent {entry.consent_id} was not yet given at the time"
    if state.action != "granted":
        return Verdict.VIOLATION, f"consent {entry.consent_id} had been withdrawn at the time"
    if state.valid_until is not None and entry.accessed_at >= state.valid_until:
        return Verdict.VIOLATION, f"consent {entry.consent_id} had expired at the time"
    if state.user_id != entry.subject_id:
        return Verdict.VIOLATION, f"consent {entry.consent_id} belongs to another user"
    if state.purpose != entry.purpose:
        return Verdict.VIOLATION, f"consent {entry.consent_id} is for '{state.purpose}'"
    if state.organisation is not None and state.organisation != entry.organisation_id:
        return Verdict.VIOLATION, f"consent {entry.consent_id} covers another organisation"
    if state.country is not None and state.country != entry.organisation_country:
        return Verdict.VIOLATION, f"consent {entry.consent_id} covers another country"
    return Verdict.VALID, f"consent {entry.consent_id} version {state.version} in force"
