"""Errors of the breach service; the HTTP layer maps them by ``status_code``."""

from shared.errors import ServiceError


class BreachError(ServiceError):
    """Base of every error the breach service raises on purpose."""
