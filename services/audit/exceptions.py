"""Errors of the audit service; the HTTP layer maps them by ``status_code``."""

from shared.app import ServiceError


class AuditError(ServiceError):
    """Base of every error the audit service raises on purpose."""
