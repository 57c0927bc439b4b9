"""The console's session: a signed, HttpOnly, SameSite=Lax cookie (Secure in production)
holding the signed-in person's bearer token and a CSRF token bound to the session.

:func:`begin` starts a session from a bearer token, whatever gave it: the development
form (``signin.py``) or a sign-in with an OpenID provider. The cookie is signed, not
encrypted: it holds only what its holder already has (their own token); HttpOnly keeps
it from scripts, and a session ends when its token expires.
"""

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from services.console.config import ConsoleSettings
from services.console.exceptions import CsrfRefused, SignInRefused
from shared.auth import InvalidToken, Principal, decode_token

COOKIE = "console_session"
CSRF_FIELD = "csrf"
"""The hidden field every form carries."""
_SALT = "privacy-events console session v1"


@dataclass
class Session:
    """One browser's session: its CSRF token and, once signed in, who it is."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token: str | None = None
    principal: Principal | None = None
    expires: float = 0.0
    changed: bool = False
    """Set on the response when the request ends (new, or signed in or out)."""

    @property
    def signed_in(self) -> bool:
        """Whether a person is signed in and the session has not run out."""
        return self.principal is not None and self.expires > time.time()


def _serializer(settings: ConsoleSettings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret.get_secret_value(), salt=_SALT)


def load(request: Request) -> Session:
    """The request's session (read once, kept on ``request.state``); a fresh one with a
    new CSRF token when there is none, or it is forged, too old or expired."""
    cached = getattr(request.state, "session", None)
    if isinstance(cached, Session):
        return cached
    settings: ConsoleSettings = request.app.state.settings
    session = _read(settings, request.cookies.get(COOKIE))
    request.state.session = session
    return session


def _read(settings: ConsoleSettings, cookie: str | None) -> Session:
    if cookie:
        try:
            data: dict[str, Any] = _serializer(settings).loads(
                cookie, max_age=int(settings.session_hours * 3600)
            )
            session = Session(csrf=str(data["csrf"]))
            if data.get("token") and float(data.get("expires", 0)) > time.time():
                session.token = str(data["token"])
                session.principal = Principal.model_validate(data["principal"])
                session.expires = float(data["expires"])
            return session
        except (BadSignature, KeyError, TypeError, ValueError):
            pass
    return Session(changed=True)


def verify(settings: ConsoleSettings, token: str) -> tuple[Principal, float]:
    """The principal a bearer token names and when it expires, or SignInRefused."""
    try:
        principal = decode_token(
            token, settings.jwt_secret.get_secret_value(), issuer=settings.jwt_issuer
        )
        expires = float(jwt.decode(token, options={"verify_signature": False})["exp"])
    except (InvalidToken, jwt.PyJWTError, KeyError, ValueError) as exc:
        raise SignInRefused(f"the token was refused: {exc}", field="token") from exc
    return principal, expires


def begin(request: Request, token: str, principal: Principal, token_expires: float) -> Session:
    """Start a session for ``principal`` with ``token`` (a new CSRF token, so one from
    before sign-in is worth nothing after it); it lasts until the token expires or the
    configured hours pass, whichever is first."""
    settings: ConsoleSettings = request.app.state.settings
    session = Session(
        token=token,
        principal=principal,
        expires=min(token_expires, time.time() + settings.session_hours * 3600),
        changed=True,
    )
    request.state.session = session
    return session


def end(request: Request) -> Session:
    """Sign out: a fresh session without a token."""
    session = Session(changed=True)
    request.state.session = session
    return session


def store(request: Request, response: Response) -> None:
    """Set the cookie on ``response`` if the session changed during the request."""
    session = getattr(request.state, "session", None)
    if not isinstance(session, Session) or not session.changed:
        return
    settings: ConsoleSettings = request.app.state.settings
    data: dict[str, Any] = {"csrf": session.csrf}
    if session.token and session.principal:
        data.update(
            token=session.token,
            principal=session.principal.model_dump(mode="json"),
            expires=session.expires,
        )
    response.set_cookie(
        COOKIE,
        _serializer(settings).dumps(data),
        max_age=int(settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.production,
    )


def check_csrf(session: Session, submitted: object) -> None:
    """Refuse a form whose CSRF token is missing or is not the session's."""
    if not isinstance(submitted, str) or not submitted:
        raise CsrfRefused("the form carried no CSRF token", field=CSRF_FIELD)
    if not hmac.compare_digest(submitted.encode(), session.csrf.encode()):
        raise CsrfRefused(
            "the form's CSRF token is not this session's (an old page, or another site's form)",
            field=CSRF_FIELD,
        )
