"""Errors of the notifier service; the HTTP layer maps them by ``status_code``."""

from shared.errors import ServiceError


class NotifierError(ServiceError):
    """Base of every error the notifier service raises on purpose."""


class TemplateBroken(NotifierError):
    """A template is missing or cannot render: the service refuses to start."""

    status_code = 500


class MalformedBounce(NotifierError):
    """The body is not an RFC 3464 delivery status notification."""

    status_code = 422


class BounceTooLarge(NotifierError):
    """The delivery status notification is larger than the service accepts."""

    status_code = 413


class NoticeNotFound(NotifierError):
    """No notice has that Message-ID (or notice id)."""

    status_code = 404


class NoticeStillSending(NotifierError):
    """A bounce arrived for a notice whose sending is not recorded yet."""

    status_code = 409


class InvalidCursor(NotifierError):
    """The page cursor was not one this service wrote."""

    status_code = 422
