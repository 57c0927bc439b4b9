"""Registry rules: pure functions over plain data, no I/O and no framework.

The registry speaks one vocabulary with the consent service: a field of a user's
registration or profile is named by the data category the purposes list
(``email_address``, ``contact_person_phone`` ...), so a member organisation asks for
exactly the categories a consent or grant covers.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PUBLIC_VISIBILITY = "public_profile_visibility"
"""The consent purpose that publishing a profile needs."""

LEGAL_DISCLOSURE = "legal_disclosure"
"""The purpose recorded for a disclosure under a legal obligation."""

REGISTRATION_FIELDS: tuple[str, ...] = (
    "full_name",
    "email_address",
    "country_of_residence",
    "company_name",
    "company_country",
    "company_registration_number",
    "business_support_network",
    "referral_source",
    "personal_address",
    "phone_number",
    "organisation_type",
    "tax_number",
    "number_of_employees",
    "language",
)
"""What registration holds, required ones first (the first policy's list)."""

PROFILE_FIELDS: tuple[str, ...] = (
    "contact_person_full_name",
    "contact_person_gender",
    "contact_person_email",
    "contact_person_phone",
    "service_name",
    "service_type",
    "service_description",
    "organisation_name",
    "organisation_email",
    "organisation_phone",
    "organisation_logo",
    "company_registration_country",
)
"""A service-provider profile: all required, all public once published."""

DISCLOSABLE_FIELDS: frozenset[str] = frozenset(REGISTRATION_FIELDS) | frozenset(PROFILE_FIELDS)
"""What a member organisation may ask for; the consent service decides what it gets."""

CONTACT_FIELDS: dict[str, str] = {
    "full_name": "full_name",
    "email": "email_address",
    "country": "country_of_residence",
    "language": "language",
}
"""Fields other services keep a copy of (event name: registry name); rectifying one
announces the new value in ``user.updated``."""


class RegistryRuleError(ValueError):
    """A command breaks a registry rule; the message starts with the field it concerns."""


@dataclass(frozen=True)
class Restriction:
    restricted: bool = False
    objected: bool = False

    @property
    def any(self) -> bool:
        return self.restricted or self.objected

    def reason(self) -> str:
        which = "objected to" if self.objected else "restricted"
        return f"the user has {which} processing of their data"


def check_fields(requested: Iterable[str]) -> frozenset[str]:
    """The requested fields, each one a field the registry holds; at least one."""
    fields = frozenset(requested)
    if not fields:
        raise RegistryRuleError("fields: name at least one field")
    unknown = fields - DISCLOSABLE_FIELDS
    if unknown:
        raise RegistryRuleError(
            f"fields: {', '.join(sorted(unknown))} not held by the registry; "
            f"known fields: {', '.join(sorted(DISCLOSABLE_FIELDS))}"
        )
    return fields


def select_fields(
    fields: Iterable[str], registration: Mapping[str, Any], profile: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The values of ``fields``; a profile field of a user without a profile is None."""
    out: dict[str, Any] = {}
    for name in sorted(fields):
        source = profile if name in PROFILE_FIELDS else registration
        out[name] = source.get(name) if source is not None else None
    return out


def changed_fields(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``update`` whose value differs from ``current``."""
    return {k: v for k, v in update.items() if current.get(k) != v}


def check_publishable(*, has_consent: bool, restriction: Restriction) -> None:
    """A profile is published only with consent to public visibility and no restriction."""
    if restriction.any:
        raise RegistryRuleError(f"restriction: {restriction.reason()}; lift it to publish")
    if not has_consent:
        raise RegistryRuleError(
            f"consent: publishing needs the user's consent to '{PUBLIC_VISIBILITY}'"
        )
