"""The one definition of a disclosure's fields, in order: where each is kept and how
it is written.

It drives the ``entries`` columns (``repository.ENTRY_COLUMNS``), the order of their
binary COPY rows (``pgcopy.entry_row``), and the fields of a page and an export, in
that order (``queries.EXPORT_FIELDS``, ``models.Disclosure``). Adding a field means
editing the contract (``shared/events/access.py``), this table, a migration, the
entry (``domain.Entry`` and its leaf), and the native reader
(``native/src/lib.rs``): ``tests/services/audit/test_audit_fields.py`` fails at the
first of them that was missed.
"""

from enum import StrEnum
from typing import NamedTuple


class Kept(StrEnum):
    """Where a field is kept."""

    POSITION = "position"  # entries.seq, the leaf index
    ENTRY = "entry"  # a column of entries, committed to by the leaf
    PERSONAL = "personal"  # entry_personal, erasable, committed to through a digest
    CHECK = "check"  # checks, the consent check after the fact


class Kind(StrEnum):
    """How a field of ``entries`` is written in a binary COPY row."""

    UUID = "uuid"
    TEXT = "text"
    TIME = "timestamptz"
    TEXTS = "text[]"
    INT4 = "integer"
    BYTES = "bytea"


class DisclosureField(NamedTuple):
    name: str
    kept: Kept
    kind: Kind | None = None
    shown: bool = True
    """In a page, a report and an export."""


FIELDS: tuple[DisclosureField, ...] = (
    DisclosureField("seq", Kept.POSITION),
    DisclosureField("event_id", Kept.ENTRY, Kind.UUID),
    DisclosureField("producer", Kept.ENTRY, Kind.TEXT, shown=False),
    DisclosureField("accessed_at", Kept.ENTRY, Kind.TIME),
    DisclosureField("recorded_at", Kept.ENTRY, Kind.TIME),
    DisclosureField("organisation_id", Kept.ENTRY, Kind.TEXT),
    DisclosureField("organisation_country", Kept.ENTRY, Kind.TEXT),
    DisclosureField("actor", Kept.ENTRY, Kind.TEXT),
    DisclosureField("subject_id", Kept.ENTRY, Kind.TEXT),
    DisclosureField("subject_country", Kept.PERSONAL),
    DisclosureField("fields", Kept.ENTRY, Kind.TEXTS),
    DisclosureField("purpose", Kept.ENTRY, Kind.TEXT),
    DisclosureField("legal_basis", Kept.ENTRY, Kind.TEXT),
    DisclosureField("legal_reference", Kept.ENTRY, Kind.TEXT),
    DisclosureField("channel", Kept.ENTRY, Kind.TEXT),
    DisclosureField("decision", Kept.ENTRY, Kind.TEXT),
    DisclosureField("decision_reason", Kept.ENTRY, Kind.TEXT),
    DisclosureField("consent_id", Kept.ENTRY, Kind.TEXT),
    DisclosureField("consent_version", Kept.ENTRY, Kind.INT4),
    DisclosureField("grant_id", Kept.ENTRY, Kind.TEXT),
    DisclosureField("personal_digest", Kept.ENTRY, Kind.BYTES, shown=False),
    DisclosureField("verdict", Kept.CHECK),
)

ENTRY_FIELDS = tuple(f for f in FIELDS if f.kept is Kept.ENTRY)
"""The fields of ``domain.Entry``, in the order of the ``entries`` columns after seq."""
SHOWN = tuple(f.name for f in FIELDS if f.shown)
"""What a page or an export shows, in order."""
