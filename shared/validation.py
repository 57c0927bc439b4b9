"""Validated types: ISO country codes, phone numbers, language tags, and the bounded
positions and instants every HTTP edge takes.

Each raises a ``ValueError`` whose message says what is wrong, so the HTTP layer's 422
names the field and the problem.
"""

from datetime import UTC, datetime
from typing import Annotated

import phonenumbers
import pycountry
from pydantic import AfterValidator, BeforeValidator, Field

_LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


def country_code(value: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper-cased, that names a real country."""
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code")
    return code


def phone_number(value: str, region: str | None = None) -> str:
    """A valid phone number in E.164 form; ``region`` reads numbers written without +."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region else " (write it with its country code, e.g. +63 2 8123 4567)"
        raise ValueError(f"'{value}' is not a phone number{hint}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"'{value}' is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


CountryCode = Annotated[
    str,
    AfterValidator(country_code),
    Field(description="ISO 3166-1 alpha-2 country code.", examples=["PH"]),
]
LanguageTag = Annotated[
    str,
    BeforeValidator(_strip),
    Field(pattern=_LANGUAGE, max_length=35, description="BCP 47 language tag.", examples=["en"]),
]


# Bounded types for the HTTP edge: a value that passes them fits the column it is
# compared with, so no input reaches the database to come back as a 500.
BIGINT_MAX = 2**63 - 1
"""The largest value of a PostgreSQL bigint (and of every position, size and count here)."""

Position = Annotated[
    int,
    Field(ge=0, le=BIGINT_MAX, description="A position or size, 0 to 2^63-1.", examples=[5]),
]
"""A position in a log, a tree size, a cursor's key: what a bigint column holds."""


LAST_INSTANT = datetime.max.replace(tzinfo=UTC)
"""9999-12-31T23:59:59.999999Z: refused, since the database driver turns it to infinity."""


def in_calendar(value: datetime) -> datetime:
    """The instant in UTC; refused when it has no offset or leaves the calendar in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must give a time zone offset, e.g. 2026-11-20T10:00:00Z")
    try:
        instant = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"'{value.isoformat()}' is outside the calendar once turned to UTC (years 0001 to 9999)"
        ) from None
    if instant == LAST_INSTANT:
        # asyncpg writes this one instant as PostgreSQL's 'infinity' and reads it back
        # without its offset, so it would come back as a time no answer may carry.
        raise ValueError(
            f"'{value.isoformat()}' is the last instant of the calendar, which PostgreSQL "
            "stores as infinity; give an earlier one"
        )
    return instant


Instant = Annotated[
    datetime,
    AfterValidator(in_calendar),
    Field(
        description="An instant with its offset (ISO 8601), read in UTC.",
        examples=["2026-11-20T10:00:00Z"],
    ),
]
"""A moment from outside: it has an offset, and it stays in the calendar in UTC."""
