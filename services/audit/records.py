"""``data.accessed`` records as the log reads them: fast, and never looser than the contract.

The contract is the pydantic model :class:`shared.events.DataAccessed`, read as a
consumer reads it: what the model fills in by default for producers (an envelope's
``event_id``, its ``occurred_at``) a record must carry. Validating a
record through it took 24.6 µs here, msgspec 4.3 µs (measured), so the log decodes
records with msgspec into the structs below, which mirror the model field for field
(a test keeps them in step). msgspec is stricter in places (it does not turn
``"1"`` into ``1``); a record it refuses is read again through the pydantic model, which
has the last word, so the fast path never refuses what the contract accepts.

On top of the contract, a record must fit the log's columns: no NUL characters (a text
column cannot hold them), two-letter countries, a version that fits an integer column,
a time that stays within the calendar once turned to UTC.
A record that does not is dead-lettered rather than left to fail its whole batch.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from pydantic import ValidationError

from shared.events import DataAccessed, Decision, Envelope, LegalBasis
from shared.kafka import describe

# ``\Z``, not ``$``: Python's ``$`` also matches before a final newline, and "PH\n" would
# pass as a country only to fail its whole batch in the database, again and again.
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}\Z")]
EventId = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
]
"""A UUID as the contract writes it; other spellings take the slow path, which writes
them this way."""
Version = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class AccessPayload(msgspec.Struct, frozen=True, gc=False):
    """:class:`shared.events.DataAccessedPayload`, as msgspec reads it."""

    organisation_id: str
    actor: str
    subject_id: str
    fields: list[str]
    purpose: str
    legal_basis: LegalBasis
    channel: str
    accessed_at: datetime
    decision: Decision
    organisation_country: Country | None = None
    subject_country: Country | None = None
    legal_reference: str | None = None
    decision_reason: str | None = None
    consent_id: str | None = None
    consent_version: Version | None = None
    grant_id: str | None = None


class Access(msgspec.Struct, frozen=True, gc=False):
    """:class:`shared.events.DataAccessed`, as msgspec reads it."""

    event_id: EventId
    event_type: Literal["data.accessed"]
    schema_version: Literal[1]
    occurred_at: AwareTime
    producer: str
    subject_id: str
    payload: AccessPayload


class InvalidRecord(ValueError):
    """A record the log cannot take; the message names the field and the problem."""


_decoder = msgspec.json.Decoder(Access)


def decode(value: bytes) -> Access:
    """One ``data.accessed`` record, or :class:`InvalidRecord` saying what is wrong."""
    try:
        return _fits(_decoder.decode(value), value)
    except msgspec.ValidationError:
        pass  # perhaps something the contract's lax reading accepts: ask it
    except msgspec.DecodeError as exc:
        raise InvalidRecord(f"invalid event: not valid JSON text: {exc}") from exc
    try:
        event = DataAccessed.model_validate_json(value)
    except ValidationError as exc:
        raise InvalidRecord(describe(exc)) from exc
    if missing := unsent(event):
        raise InvalidRecord(f"invalid event: {missing}: Field required")
    try:  # the contract accepted it; now it must fit the log's columns
        return _fits(_decoder.decode(event.model_dump_json().encode()), value)
    except msgspec.ValidationError as exc:
        raise InvalidRecord(f"invalid event: {_field(str(exc))}") from exc


_DEFAULTED = tuple(name for name, f in Envelope.model_fields.items() if not f.is_required())
"""Envelope fields the contract fills in when a producer leaves them out (a default is a
convenience for producers building events, not something a consumer may assume)."""


def unsent(event: Envelope) -> str | None:
    """The first envelope field the record did not carry and the contract filled in by
    default: a record without its ``event_id`` would be given a new one at each
    delivery, and stored once per delivery."""
    return next((name for name in _DEFAULTED if name not in event.model_fields_set), None)


def _fits(access: Access, value: bytes) -> Access:
    try:
        utc(access.payload.accessed_at)
    except OverflowError:  # 0001-01-01T00:00+01:00 is a year before the first
        raise InvalidRecord(
            "invalid event: payload.accessed_at: out of range once turned to UTC"
        ) from None
    if b"\\u0000" in value:  # rare, so only then are the strings looked at
        p = access.payload
        for name, text in (
            ("producer", access.producer),
            ("subject_id", access.subject_id),
            *((f"payload.{f}", getattr(p, f)) for f in _TEXT_FIELDS),
            *((f"payload.fields[{i}]", f) for i, f in enumerate(p.fields)),
        ):
            if text is not None and "\x00" in text:
                raise InvalidRecord(f"invalid event: {name}: holds a NUL character (\\u0000)")
    return access


_TEXT_FIELDS = (
    "organisation_id",
    "actor",
    "subject_id",
    "purpose",
    "channel",
    "legal_reference",
    "decision_reason",
    "consent_id",
    "grant_id",
)


def _field(message: str) -> str:
    """msgspec's "Expected ... - at `$.payload.x`" as "payload.x: expected ..."."""
    problem, _, where = message.partition(" - at `$.")
    if not where:
        return problem
    return f"{where.rstrip('`')}: {problem[0].lower()}{problem[1:]}"


def utc(value: datetime) -> datetime:
    """A time in UTC; one without a zone is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)
