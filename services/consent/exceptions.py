"""Errors of the consent service; the HTTP layer maps them by ``status_code``."""

from services.consent.domain import ConsentNotFound, ConsentRuleError, InvalidField
from shared.errors import ServiceError


class ConsentError(ServiceError):
    """Base of every error the consent service raises on purpose."""


class NotFound(ConsentError):
    """No such consent, receipt or organisation."""

    status_code = 404


class Forbidden(ConsentError):
    """The caller may not act on this user or organisation."""

    status_code = 403


class Conflict(ConsentError):
    """The request clashes with the state held (a consent already withdrawn)."""

    status_code = 409


class InvalidRequest(ConsentError):
    """A value the consent service cannot act on."""

    status_code = 422


_FOR_RULE: dict[type[ConsentRuleError], type[ConsentError]] = {
    InvalidField: InvalidRequest,
    ConsentNotFound: NotFound,
}


def refused(error: ConsentRuleError) -> ConsentError:
    """The service error that tells the caller a rule refused them, naming its field."""
    kind = next((cls for rule, cls in _FOR_RULE.items() if isinstance(error, rule)), InvalidRequest)
    return kind(error.message, field=error.field)
