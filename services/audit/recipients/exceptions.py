"""Errors of recipient notices, under the audit service's base error."""

from services.audit.exceptions import AuditError


class AlreadyAnswered(AuditError):
    """A request is answered once; its answer stands."""

    status_code = 409
