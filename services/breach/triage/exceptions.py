"""Errors of triage; the HTTP layer maps them by ``status_code``."""

from services.breach.exceptions import BreachError


class IncidentNotFound(BreachError):
    status_code = 404


class IncidentDecided(BreachError):
    """The incident was declared or dismissed already."""

    status_code = 409
