"""Errors of the audit service; the HTTP layer maps them by ``status_code``."""

from shared.errors import ServiceError


class AuditError(ServiceError):
    """Base of every error the audit service raises on purpose."""


class NotFound(AuditError):
    status_code = 404


class Forbidden(AuditError):
    status_code = 403


class InvalidRequest(AuditError):
    status_code = 422
