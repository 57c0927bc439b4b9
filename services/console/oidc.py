"""Signing in with an OpenID provider: the authorization-code flow with PKCE (S256), by authlib.

``GET /auth/login`` sends the browser to the provider's authorization endpoint; the state,
the nonce and the PKCE verifier wait in a short-lived signed cookie of their own.
``GET /auth/callback`` takes the provider's answer: the code and the verifier are exchanged
for tokens (the console authenticated with its client secret), the ID token is checked
(signature, issuer, audience, the nonce this browser was given), and the access token is
verified and mapped to a role exactly as every service does it (``shared.auth``): a role
the project does not know gets a page that says so, not a session. Signing out ends the
provider's session too where it publishes an ``end_session_endpoint`` (RP-initiated logout,
the ID token as the hint), and says so where it does not.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import jwt
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from services.console import session, web
from services.console.config import ConsoleSettings
from services.console.exceptions import SignInRefused
from shared.auth import InvalidToken, MissingClaim, UnknownRole, openid_provider, token_principal
from shared.oidc import ProviderUnavailable

router = APIRouter()

FLOW_COOKIE = "console_oidc_flow"
"""State, nonce, PKCE verifier and where to go next, between /auth/login and the callback."""
ID_COOKIE = "console_oidc_id"
"""The ID token, kept for signing out at the provider (its ``id_token_hint``)."""
FLOW_SECONDS = 600
_FLOW_SALT = "privacy-events console oidc flow v1"
_ID_SALT = "privacy-events console oidc id v1"
_metadata: dict[str, dict[str, Any]] = {}


def configured(settings: ConsoleSettings) -> bool:
    """Whether sign-in with a provider is offered (``OIDC_ISSUER`` and a client id)."""
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def _signer(settings: ConsoleSettings, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret.get_secret_value(), salt=salt)


def _transport(request: Request) -> httpx.AsyncBaseTransport | None:
    return getattr(request.app.state, "oidc_transport", None)


async def metadata(request: Request) -> dict[str, Any]:
    """The provider's discovery document, fetched once."""
    settings: ConsoleSettings = request.app.state.settings
    issuer = str(settings.oidc_issuer).rstrip("/")
    found = _metadata.get(issuer)
    if found is None:
        url = issuer + "/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=10, transport=_transport(request)) as http:
                answer = await http.get(url)
                answer.raise_for_status()
                found = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInRefused(
                f"the identity provider at {issuer} is not answering ({type(exc).__name__}); "
                "try again in a moment"
            ) from exc
        _metadata[issuer] = found
    return found


def _client(request: Request) -> AsyncOAuth2Client:
    settings: ConsoleSettings = request.app.state.settings
    secret = settings.oidc_client_secret
    return AsyncOAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=settings.oidc_scope,
        redirect_uri=str(request.url_for("oidc_callback")),
        code_challenge_method="S256",
        timeout=10,
        transport=_transport(request),
    )


@router.get("/auth/login", include_in_schema=False)
async def login(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    """Off to the provider, with a new state, nonce and PKCE verifier."""
    settings: ConsoleSettings = request.app.state.settings
    if not configured(settings):
        raise SignInRefused("no identity provider is configured for this console")
    meta = await metadata(request)
    verifier, nonce = generate_token(64), generate_token(32)
    async with _client(request) as client:
        uri, state = client.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
    flow = {"state": state, "verifier": verifier, "nonce": nonce, "next": web.safe_next(next)}
    response = RedirectResponse(uri, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        _signer(settings, _FLOW_SALT).dumps(flow),
        max_age=FLOW_SECONDS,
        path="/auth",
        httponly=True,
        samesite="lax",
        secure=settings.production,
    )
    return response


def _flow(request: Request) -> dict[str, str] | None:
    settings: ConsoleSettings = request.app.state.settings
    cookie = request.cookies.get(FLOW_COOKIE)
    if not cookie:
        return None
    try:
        data = _signer(settings, _FLOW_SALT).loads(cookie, max_age=FLOW_SECONDS)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


@router.get("/auth/callback", name="oidc_callback", include_in_schema=False)
async def callback(
    request: Request,
    code: Annotated[str | None, Query(max_length=4000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """The provider's answer: tokens for the code, a role from the access token, a session."""
    settings: ConsoleSettings = request.app.state.settings
    if not configured(settings):
        raise SignInRefused("no identity provider is configured for this console")
    if error:
        raise SignInRefused(
            f"the identity provider did not sign you in: {error}"
            + (f" ({error_description})" if error_description else "")
        )
    flow = _flow(request)
    if flow is None or not state or state != flow.get("state") or not code:
        raise SignInRefused(
            "this sign-in did not start in this browser, or took longer than ten minutes "
            "(its state does not match); sign in again"
        )
    meta = await metadata(request)
    async with _client(request) as client:
        try:
            tokens = await client.fetch_token(
                meta["token_endpoint"], code=code, code_verifier=flow["verifier"]
            )
        except (OAuthError, httpx.HTTPError) as exc:
            raise SignInRefused(f"the identity provider refused the sign-in code: {exc}") from exc
    access, id_token = tokens.get("access_token"), tokens.get("id_token")
    if not isinstance(access, str) or not isinstance(id_token, str):
        raise SignInRefused("the identity provider's answer had no access token or ID token")
    await _check_id_token(settings, id_token, flow["nonce"])
    try:
        principal = await asyncio.to_thread(token_principal, access, settings)
        expires = float(jwt.decode(access, options={"verify_signature": False})["exp"])
    except (UnknownRole, MissingClaim) as exc:
        refused = web.render(
            request,
            "signin_refused.html",
            {"message": exc.message, "provider_signout": _end_session_url(request, meta, id_token)},
            status=403,
        )
        refused.delete_cookie(FLOW_COOKIE, path="/auth")
        return refused
    except (InvalidToken, ProviderUnavailable, jwt.PyJWTError, KeyError, ValueError) as exc:
        raise SignInRefused(f"the identity provider's access token was refused: {exc}") from exc
    session.begin(request, access, principal, expires)
    response = web.see_other(flow.get("next") or "/")
    response.delete_cookie(FLOW_COOKIE, path="/auth")
    response.set_cookie(
        ID_COOKIE,
        _signer(settings, _ID_SALT).dumps(id_token),
        max_age=int(settings.session_hours * 3600),
        path="/signout",
        httponly=True,
        samesite="lax",
        secure=settings.production,
    )
    return response


async def _check_id_token(settings: ConsoleSettings, id_token: str, nonce: str) -> None:
    provider = openid_provider(str(settings.oidc_issuer), settings.oidc_client_id)
    try:
        claims = await asyncio.to_thread(provider.verify, id_token)
    except (jwt.PyJWTError, ProviderUnavailable, ValueError) as exc:
        raise SignInRefused(f"the identity provider's ID token was refused: {exc}") from exc
    if claims.get("nonce") != nonce:
        raise SignInRefused("the ID token was not issued for this sign-in (its nonce differs)")


def _end_session_url(request: Request, meta: dict[str, Any], id_token: str | None) -> str | None:
    endpoint = meta.get("end_session_endpoint")
    if not isinstance(endpoint, str):
        return None
    settings: ConsoleSettings = request.app.state.settings
    params = {
        "client_id": settings.oidc_client_id or "",
        "post_logout_redirect_uri": str(request.url_for("signin_page")) + "?signed_out=1",
    }
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}?{urlencode(params)}"


async def signed_out(request: Request) -> Response:
    """After the console's session has ended: on to the provider's end-session endpoint
    (its session ends too), or to the sign-in page."""
    settings: ConsoleSettings = request.app.state.settings
    if not configured(settings):
        return web.see_other("/signin")
    id_token: str | None = None
    cookie = request.cookies.get(ID_COOKIE)
    if cookie:
        try:
            id_token = _signer(settings, _ID_SALT).loads(cookie)
        except BadSignature:
            id_token = None
    if id_token is None:
        return web.see_other("/signin?signed_out=1")
    try:
        url = _end_session_url(request, await metadata(request), id_token)
    except SignInRefused:
        url = None
    response = web.see_other(url or "/signin?signed_out=console")
    response.delete_cookie(ID_COOKIE, path="/signout")
    return response


def install(app: FastAPI) -> None:
    """With a provider configured, let forms lead to it: the sign-out form is answered with
    a redirect to the provider's end-session endpoint, and browsers hold a redirect after a
    form to the page's ``form-action`` (CSP level 2)."""
    settings: ConsoleSettings = app.state.settings
    if not configured(settings):
        return
    url = httpx.URL(str(settings.oidc_issuer))
    origin = f"{url.scheme}://{url.netloc.decode()}"

    @app.middleware("http")
    async def provider_form_action(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        policy = response.headers.get("Content-Security-Policy")
        if policy and "form-action 'self';" in policy:
            response.headers["Content-Security-Policy"] = policy.replace(
                "form-action 'self';", f"form-action 'self' {origin};"
            )
        return response
