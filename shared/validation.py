"""Validated types for personal data: ISO country codes, phone numbers, language tags.

Each raises a ``ValueError`` whose message says what is wrong, so the HTTP layer's 422
names the field and the problem.
"""

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
