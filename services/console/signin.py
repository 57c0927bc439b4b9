"""Signing in and out. :func:`sign_in` starts a session from a bearer token, however it
was obtained; the development form below takes one pasted in (never in production), and
an OpenID provider's sign-in hands its token to the same function."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from services.console import oidc, session, web
from services.console.config import ConsoleSettings
from services.console.exceptions import SignInRefused
from services.console.web import safe_next

router = APIRouter()


def sign_in(request: Request, token: str, next_path: str | None = None) -> RedirectResponse:
    """Verify ``token``, start a session for whom it names, and go on to ``next_path``."""
    settings: ConsoleSettings = request.app.state.settings
    principal, expires = session.verify(settings, token)
    session.begin(request, token, principal, expires)
    return web.see_other(safe_next(next_path))


@router.get("/signin", response_class=HTMLResponse, name="signin_page", include_in_schema=False)
async def signin_page(
    request: Request,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    expired: Annotated[str | None, Query(max_length=10)] = None,
    signed_out: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    settings: ConsoleSettings = request.app.state.settings
    return web.render(
        request,
        "signin.html",
        {
            "next": safe_next(next),
            "expired": bool(expired),
            "dev_sign_in": settings.dev_sign_in,
            "provider": oidc.configured(settings),
            "signed_out": signed_out,
        },
    )


@router.post("/signin", include_in_schema=False)
async def signin_with_token(
    request: Request, form: Annotated[FormData, Depends(web.posted)]
) -> Response:
    settings: ConsoleSettings = request.app.state.settings
    if not settings.dev_sign_in:
        raise SignInRefused("signing in with a pasted token is off here", field="token")
    token = form.get("token")
    next_path = form.get("next") if isinstance(form.get("next"), str) else None
    try:
        if not isinstance(token, str) or not token.strip():
            raise SignInRefused("paste a bearer token to sign in", field="token")
        return sign_in(request, token.strip(), str(next_path) if next_path else None)
    except SignInRefused as exc:
        context = {"next": safe_next(str(next_path or "")), "dev_sign_in": True}
        context["errors"] = {"token": exc.message}
        return web.render(request, "signin.html", context, status=400)


@router.post("/signout", include_in_schema=False)
async def signout(request: Request, _: Annotated[FormData, Depends(web.posted)]) -> Response:
    session.end(request)
    return await oidc.signed_out(request)
