"""The console's errors: each becomes a page (or a redirect to sign-in)."""

from shared.errors import ServiceError


class ConsoleError(ServiceError):
    """Base of the console's errors."""


class NotSignedIn(ConsoleError):
    """No session, or one whose token has expired: the sign-in page."""

    status_code = 401


class WrongRole(ConsoleError):
    """The signed-in role may not see this page."""

    status_code = 403


class CsrfRefused(ConsoleError):
    """A form posted without the session's CSRF token."""

    status_code = 403


class SignInRefused(ConsoleError):
    """A token that does not verify, or a sign-in form that is switched off."""

    status_code = 400
