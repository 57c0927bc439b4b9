"""Errors of the consent service; the HTTP layer maps them by ``status_code``."""

from shared.app import ServiceError


class ConsentError(ServiceError):
    """Base of every error the consent service raises on purpose."""
