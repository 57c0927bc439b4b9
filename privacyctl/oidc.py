"""Signing in with an OpenID provider: the device authorization grant (RFC 8628) and the
refresh of an expired access token (RFC 6749 §6).

Plain functions over an ``httpx.Client``; they raise ``ProviderError`` with one sentence
and leave printing and exit codes to the commands.
"""

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_SECONDS = 5.0
"""RFC 8628 §3.5: on ``slow_down`` the interval grows by 5 seconds for this and later polls."""
REFRESH_MARGIN_SECONDS = 30.0
"""A token with less than this left is refreshed before a command uses it."""


class ProviderError(Exception):
    """The provider refused, or could not be reached; ``unavailable`` tells which."""

    def __init__(self, message: str, *, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


@dataclass(frozen=True)
class DeviceGrant:
    """What the person is shown and what the command polls with."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    interval: float
    expires_in: float
    code_verifier: str = ""
    """PKCE (RFC 7636) on the device grant: the challenge went with the request, the verifier
    goes with each poll (a provider that does not use it ignores both; Keycloak can require it)."""


def discover(http: httpx.Client, issuer: str) -> dict[str, Any]:
    """The provider's discovery document."""
    return _json(http, "GET", issuer.rstrip("/") + "/.well-known/openid-configuration")


def start_device_flow(
    http: httpx.Client, meta: dict[str, Any], client_id: str, scope: str = "openid"
) -> DeviceGrant:
    """Ask for a device code and the user code the person enters."""
    endpoint = meta.get("device_authorization_endpoint")
    if not isinstance(endpoint, str):
        raise ProviderError("the provider offers no device-code flow")
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    body = _json(
        http,
        "POST",
        endpoint,
        data={
            "client_id": client_id,
            "scope": scope,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        },
    )
    try:
        return DeviceGrant(
            device_code=str(body["device_code"]),
            user_code=str(body["user_code"]),
            verification_uri=str(body["verification_uri"]),
            verification_uri_complete=body.get("verification_uri_complete"),
            interval=float(body.get("interval", 5)),
            expires_in=float(body.get("expires_in", 600)),
            code_verifier=verifier,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(f"the provider's device authorization answer lacks {exc}") from exc


def poll_device_flow(
    http: httpx.Client,
    meta: dict[str, Any],
    client_id: str,
    grant: DeviceGrant,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll the token endpoint every ``interval`` seconds (longer after ``slow_down``) until
    the person has signed in; the token answer (``access_token``, ``refresh_token`` ...)."""
    interval = grant.interval
    deadline = clock() + grant.expires_in
    while clock() < deadline:
        sleep(interval)
        answer = _post(
            http,
            meta["token_endpoint"],
            {
                "grant_type": DEVICE_GRANT,
                "device_code": grant.device_code,
                "client_id": client_id,
                "code_verifier": grant.code_verifier,
            },
        )
        body = _body(answer)
        if answer.status_code == 200 and "access_token" in body:
            return body
        error = body.get("error")
        if error == "slow_down":
            interval += SLOW_DOWN_SECONDS
        elif error != "authorization_pending":
            raise ProviderError(
                f"the provider refused: {error}: {body.get('error_description', '')}".rstrip(": ")
            )
    raise ProviderError("the code expired before it was entered")


def refresh(http: httpx.Client, issuer: str, client_id: str, refresh_token: str) -> dict[str, Any]:
    """A new token answer for ``refresh_token``."""
    meta = discover(http, issuer)
    answer = _post(
        http,
        meta["token_endpoint"],
        {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id},
    )
    body = _body(answer)
    if answer.status_code != 200 or "access_token" not in body:
        raise ProviderError(
            f"the provider would not renew the session: {body.get('error', answer.status_code)}: "
            f"{body.get('error_description', '')}".rstrip(": ")
        )
    return body


def _post(http: httpx.Client, url: str, data: dict[str, str]) -> httpx.Response:
    try:
        return http.post(url, data=data)
    except httpx.TransportError as exc:
        raise ProviderError(
            f"the OpenID provider is not reachable ({type(exc).__name__})", unavailable=True
        ) from exc


def _json(http: httpx.Client, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        answer = http.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise ProviderError(
            f"the OpenID provider at {url} is not reachable ({type(exc).__name__})",
            unavailable=True,
        ) from exc
    body = _body(answer)
    if answer.is_error:
        raise ProviderError(
            f"the OpenID provider answered {answer.status_code} at {url}: "
            f"{body.get('error_description') or body.get('error') or ''}".rstrip(": ")
        )
    return body


def _body(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
