"""Errors of the breach service; the HTTP layer maps them by ``status_code``."""

from shared.errors import ServiceError


class BreachError(ServiceError):
    """Base of every error the breach service raises on purpose."""


class BreachNotFound(BreachError):
    status_code = 404


class InvalidDeclaration(BreachError):
    """A declaration whose fields validate one by one but not together."""

    status_code = 422


class InvalidDecision(BreachError):
    """A regulator decision that lacks what GDPR Art. 33 asks of it."""

    status_code = 422


class InvalidAnnouncement(BreachError):
    status_code = 422


class InvalidCursor(BreachError):
    status_code = 422


class IdempotencyKeyReused(BreachError):
    """The Idempotency-Key was first used for a different declaration."""

    status_code = 409


class BreachClosed(BreachError):
    """The breach is closed; nothing more can be done to it."""

    status_code = 409


class CannotClose(BreachError):
    """Closing was asked for while something is missing; ``missing`` says what."""

    status_code = 409


class InvalidNoticeId(BreachError):
    """An outcome whose notice_id does not name a breach notice."""

    status_code = 422


class AuditUnavailable(BreachError):
    """The audit service did not answer which subjects an organisation received."""

    status_code = 503


class InvalidAssessment(BreachError):
    """An assessment whose times do not fit the breach."""

    status_code = 422


class ObligationNotFound(BreachError):
    """The breach has no obligation under that regime (or toward that recipient)."""

    status_code = 404


class ObligationAlreadyMet(BreachError):
    """The obligation is already recorded as met."""

    status_code = 409


class InvalidRegulatorNotice(BreachError):
    """A regulator's notice that lacks what its regime asks (the reasons of a delay)."""

    status_code = 422


class RegimeNotFound(BreachError):
    """No regime of that id in the regimes file."""

    status_code = 404


class PdfUnavailable(BreachError):
    """No font to write a PDF with is installed on the machine."""

    status_code = 503
