"""Errors of the registry service; the HTTP layer maps them by ``status_code``."""

from shared.app import ServiceError


class RegistryError(ServiceError):
    """Base of every error the registry service raises on purpose."""
