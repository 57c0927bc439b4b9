"""Registry rules: pure functions over plain data, no I/O.

The registry speaks one vocabulary with the consent service: a field of a user's
registration or profile is named by the data category the purposes list
(``email_address``, ``contact_person_phone`` ...), so a member organisation asks for
exactly the categories a consent or grant covers. The names of the fields are read
from the models that define them, never written again.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.registry.models import ProfileBase, RegistrationBase

PUBLIC_VISIBILITY = "public_profile_visibility"
"""The consent purpose that publishing a profile needs."""

LEGAL_DISCLOSURE = "legal_disclosure"
"""The purpose recorded for a disclosure under a legal obligation."""

REGISTRATION_FIELDS: tuple[str, ...] = tuple(RegistrationBase.model_fields)
"""What registration holds, required ones first (the first policy's list)."""

OPTIONAL_FIELDS: frozenset[str] = frozenset(
    name for name, f in RegistrationBase.model_fields.items() if f.default is None
)
"""Registration fields a user may leave empty, or empty again by rectification."""

PROFILE_FIELDS: tuple[str, ...] = tuple(ProfileBase.model_fields)
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
    """A command breaks a registry rule; ``field`` names what it concerns."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidField(RegistryRuleError):
    """A value the registry cannot act on (a 422 at the HTTP edge)."""


class NotPublishable(RegistryRuleError):
    """The profile may not be published in the user's present state (a 409)."""


@dataclass(frozen=True)
class Restriction:
    """Whether the user restricted processing of their data, or objected to it."""

    restricted: bool = False
    objected: bool = False

    @property
    def any(self) -> bool:
        """Restricted, or objected to."""
        return self.restricted or self.objected

    def reason(self) -> str:
        """Why nothing may be disclosed or published, in a sentence."""
        which = "objected to" if self.objected else "restricted"
        return f"the user has {which} processing of their data"


def check_fields(requested: Iterable[str]) -> frozenset[str]:
    """The requested fields, each one a field the registry holds; at least one."""
    fields = frozenset(requested)
    if not fields:
        raise InvalidField("fields", "name at least one field")
    unknown = fields - DISCLOSABLE_FIELDS
    if unknown:
        raise InvalidField(
            "fields",
            f"{', '.join(sorted(unknown))} not held by the registry; "
            f"known fields: {', '.join(sorted(DISCLOSABLE_FIELDS))}",
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
        raise NotPublishable("restriction", f"{restriction.reason()}; lift it to publish")
    if not has_consent:
        raise NotPublishable(
            "consent", f"publishing needs the user's consent to '{PUBLIC_VISIBILITY}'"
        )
