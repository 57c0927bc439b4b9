"""What every page shares: the templates, the signed-in person, role checks, CSRF-checked
forms, security headers, and errors shown as pages."""

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from client import ApiError, Forbidden, NotFound, Unauthorized, Unavailable
from services.console import domain, session
from services.console.domain import Section
from services.console.exceptions import CsrfRefused, NotSignedIn, SignInRefused, WrongRole
from shared.auth import Principal
from shared.logging import get_logger

log = get_logger(__name__)
HERE = Path(__file__).parent
STATIC = Path(__file__).resolve().parents[2] / "shared" / "static"
"""The project's own static files (the vendored htmx under vendor/)."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["when"] = domain.when
_env.filters["duration"] = domain.duration
_env.filters["words"] = domain.words
templates = Jinja2Templates(env=_env)


def signed_in(request: Request) -> Principal:
    """The signed-in person, or NotSignedIn (the sign-in page)."""
    current = session.load(request)
    if not current.signed_in or current.principal is None:
        raise NotSignedIn("sign in to see this page")
    return current.principal


def token_of(request: Request) -> str:
    """The signed-in person's bearer token, sent with every call."""
    signed_in(request)
    token = session.load(request).token
    assert token is not None
    return token


def allowed(request: Request, section: Section) -> Principal:
    """The signed-in person if their role may see ``section``, else WrongRole."""
    principal = signed_in(request)
    if not domain.may(principal.role, section):
        raise WrongRole(domain.refusal(principal.role, section))
    return principal


async def posted(request: Request) -> FormData:
    """The posted form, once its CSRF token is checked against the session's."""
    form = await request.form()
    session.check_csrf(session.load(request), form.get(session.CSRF_FIELD))
    return form


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A page, with what every page needs: who is signed in, the CSRF token, the nav."""
    current = session.load(request)
    principal = current.principal if current.signed_in else None
    nav = [] if principal is None else _nav(principal)
    return templates.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "csrf": current.csrf,
            "nav": nav,
            "path": request.url.path,
            "refresh": request.app.state.settings.refresh_seconds,
            **(context or {}),
        },
        status_code=status,
    )


def _nav(principal: Principal) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    if domain.may(principal.role, Section.BREACHES):
        links.append(("/breaches", "Breaches"))
    if domain.may(principal.role, Section.BREACH_WRITE):
        links.append(("/breaches/new", "Declare"))
    if domain.may(principal.role, Section.TRAIL):
        links += [
            ("/trail", "Access trail"),
            ("/violations", "Violations"),
            ("/recipient-requests", "Overdue requests"),
            ("/log", "Signed log"),
        ]
    if domain.may(principal.role, Section.ADMIN):
        links += [("/admin/organisations", "Organisations"), ("/admin/grants", "Grants")]
    if domain.may(principal.role, Section.ME):
        links += [("/me", "My data"), ("/me/consents", "My consents")]
    return links


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def see_other(url: str) -> RedirectResponse:
    """POST-redirect-GET."""
    return RedirectResponse(url, status_code=303)


def query(**params: Any) -> str:
    """A query string of the set parameters (for links that keep a filter)."""
    return urlencode({k: v for k, v in params.items() if v not in (None, "", False)})


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """An error as a page that says what happened."""
    return render(request, "error.html", {"title": title, "message": message}, status=status)


def install(app: FastAPI) -> None:
    """Errors as pages, the session cookie and the security headers on every answer."""

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
        else:
            response.headers.setdefault("Cache-Control", "no-store")
        session.store(request, response)
        return response

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("HX-Request"):  # htmx: the whole page goes to sign-in
            return Response(status_code=204, headers={"HX-Redirect": "/signin"})
        return see_other(f"/signin?next={quote(target, safe='')}")

    @app.exception_handler(WrongRole)
    async def wrong_role(request: Request, exc: WrongRole) -> Response:
        return error_page(request, 403, "Not for your role", exc.message)

    @app.exception_handler(CsrfRefused)
    async def csrf(request: Request, exc: CsrfRefused) -> Response:
        return error_page(
            request,
            403,
            "Form refused",
            f"The form was refused: {exc.message}. Go back, reload the page and send it again.",
        )

    @app.exception_handler(SignInRefused)
    async def sign_in_refused(request: Request, exc: SignInRefused) -> Response:
        return error_page(request, 400, "Sign-in refused", exc.message)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if isinstance(exc, Unauthorized):
            session.end(request)
            return see_other("/signin?expired=1")
        if isinstance(exc, Forbidden):
            return error_page(request, 403, "Not for your role", f"The service said: {exc}")
        if isinstance(exc, NotFound):
            return error_page(request, 404, "Not found", str(exc))
        if isinstance(exc, Unavailable):
            return error_page(request, 503, "A service is not answering", str(exc))
        if exc.status is not None and 400 <= exc.status < 500:
            return error_page(request, exc.status, "Request refused", str(exc))
        log.error("console.api_failed", error=str(exc), status=exc.status)
        return error_page(request, 502, "A service failed", str(exc))
