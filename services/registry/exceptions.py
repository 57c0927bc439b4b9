"""Errors of the registry service; the HTTP layer maps them by ``status_code``."""

from services.registry.domain import InvalidField, NotPublishable, RegistryRuleError
from shared.errors import ServiceError


class RegistryError(ServiceError):
    """Base of every error the registry service raises on purpose."""


class NotFound(RegistryError):
    """No such user, profile or published profile."""

    status_code = 404


class Gone(RegistryError):
    """The user existed and was erased."""

    status_code = 410


class Forbidden(RegistryError):
    """The caller may not act on this user."""

    status_code = 403


class Denied(Forbidden):
    """The consent service (or a restriction) refused a disclosure; the attempt is recorded."""


class Conflict(RegistryError):
    """The request clashes with the state held (a taken email, a profile not publishable)."""

    status_code = 409


class InvalidRequest(RegistryError):
    """A value the registry cannot act on."""

    status_code = 422


class Unavailable(RegistryError):
    """A service the registry depends on did not answer; nothing was disclosed."""

    status_code = 503


_FOR_RULE: dict[type[RegistryRuleError], type[RegistryError]] = {
    InvalidField: InvalidRequest,
    NotPublishable: Conflict,
}


def refused(error: RegistryRuleError) -> RegistryError:
    """The service error that tells the caller a rule refused them, naming its field."""
    kind = next((cls for rule, cls in _FOR_RULE.items() if isinstance(error, rule)), InvalidRequest)
    return kind(error.message, field=error.field)
