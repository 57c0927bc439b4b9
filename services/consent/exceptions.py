"""Errors of the consent service; the HTTP layer maps them by ``status_code``."""

from shared.errors import ServiceError


class ConsentError(ServiceError):
    """Base of every error the consent service raises on purpose."""


class NotFound(ConsentError):
    status_code = 404


class Forbidden(ConsentError):
    status_code = 403


class Conflict(ConsentError):
    status_code = 409


class InvalidRequest(ConsentError):
    status_code = 422
