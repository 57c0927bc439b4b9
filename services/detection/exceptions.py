"""Errors of the detection service; the HTTP layer maps them by ``status_code``."""

from shared.errors import ServiceError


class DetectionError(ServiceError):
    """Base of every error the detection service raises on purpose."""
