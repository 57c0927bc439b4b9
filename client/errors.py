"""Typed errors of the services' APIs: each carries the answer's ``detail``.

Every service answers a refusal with ``{"detail": {"error", "message", "field"?,
"problems"?}}`` (``shared/errors.py``); :func:`error_of` turns such an answer into the
exception of its kind, so a caller catches :class:`NotFound` rather than reading codes.
"""

from typing import Any

import httpx


class ApiError(Exception):
    """A call that did not succeed: the status (None: no answer), and what the API said."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        field: str | None = None,
        problems: list[dict[str, Any]] | None = None,
        detail: dict[str, Any] | None = None,
        service: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error
        self.field = field
        self.problems = problems or []
        self.detail = detail or {}
        self.service = service

    def __str__(self) -> str:
        where = f"{self.service}: " if self.service else ""
        field = f" ({self.field})" if self.field and self.field not in self.message else ""
        return f"{where}{self.message}{field}"


class Invalid(ApiError):
    """400 or 422: the request did not validate; ``field`` and ``problems`` say where."""


class Unauthorized(ApiError):
    """401: no token, or one that is expired or not signed by the stack."""


class Forbidden(ApiError):
    """403: the token's role may not do this (or a refusal that the API records)."""


class NotFound(ApiError):
    """404 (or 410, gone): nothing at that address."""


class Conflict(ApiError):
    """409: the request clashes with the state (a retired organisation, a breach not ready
    to close, an idempotency key reused with another body)."""


class Unavailable(ApiError):
    """No answer (connection refused, timed out) or a 502, 503 or 504: try again later."""


class ServerError(ApiError):
    """500 or another 5xx: the service failed; its log says why."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: Invalid,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: NotFound,
    422: Invalid,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


def error_of(response: httpx.Response, service: str | None = None) -> ApiError:
    """The typed exception for an unsuccessful answer."""
    status = response.status_code
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    detail: dict[str, Any] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    raw = body.get("detail") if isinstance(body, dict) else None
    if isinstance(raw, dict):
        detail = raw
    elif isinstance(raw, str):
        detail = {"message": raw}
    elif isinstance(raw, list):  # FastAPI's own validation shape, should one slip through
        detail = {"message": "the request did not validate", "problems": raw}
    message = str(detail.get("message") or _fallback(status, response))
    problems = detail.get("problems")
    return kind(
        message,
        status=status,
        error=detail.get("error"),
        field=detail.get("field"),
        problems=problems if isinstance(problems, list) else None,
        detail=detail,
        service=service,
    )


def _fallback(status: int, response: httpx.Response) -> str:
    text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    return f"answered {status}" + (f": {text}" if text else "")


def unreachable(exc: httpx.TransportError, service: str, url: str) -> Unavailable:
    """The error for a call that got no answer at all."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "is not reachable"
    return Unavailable(f"the {service} service at {url} {kind}", service=None)


def cut_off(exc: httpx.TransportError, service: str) -> Unavailable:
    """The error for an answer that broke off midway (a stream)."""
    return Unavailable(f"the {service} service's answer broke off midway ({type(exc).__name__})")
