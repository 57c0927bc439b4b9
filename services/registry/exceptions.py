"""Errors of the registry service; the HTTP layer maps them by ``status_code``."""

from shared.errors import ServiceError


class RegistryError(ServiceError):
    """Base of every error the registry service raises on purpose."""


class NotFound(RegistryError):
    status_code = 404


class Gone(RegistryError):
    """The user existed and was erased."""

    status_code = 410


class Forbidden(RegistryError):
    status_code = 403


class Denied(Forbidden):
    """The consent service (or a restriction) refused a disclosure; the attempt is recorded."""


class Conflict(RegistryError):
    status_code = 409


class InvalidRequest(RegistryError):
    status_code = 422


class Unavailable(RegistryError):
    """A service the registry depends on did not answer; nothing was disclosed."""

    status_code = 503
