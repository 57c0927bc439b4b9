"""Errors of the notifier service; the HTTP layer maps them by ``status_code``."""

from shared.errors import ServiceError


class NotifierError(ServiceError):
    """Base of every error the notifier service raises on purpose."""
