"""An OpenID provider's tokens: signature (RS256/ES256) against its JWKS, issuer, audience, expiry.

The provider's keys are found through its discovery document
(``<issuer>/.well-known/openid-configuration``, ``jwks_uri``) and kept; a token signed
with a key id not among them makes one fetch of the key set (a provider rotating its keys),
and no more than one every ``refresh_seconds``, so tokens with made-up key ids cannot make
a service hammer the provider. What the claims mean (the role, the organisation, the
person) is ``shared.auth``'s business; this module only says whether the token is the
provider's, for us, and still valid.
"""

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKClientError

ALGORITHMS = ("RS256", "ES256")
"""The asymmetric algorithms accepted from a provider (never ``none``, never HS256: the
provider's public keys must not double as a shared secret)."""


class ProviderUnavailable(Exception):
    """The provider's discovery document or key set could not be fetched."""


Fetch = Callable[[str], Mapping[str, Any]]
"""GET a URL, return its JSON object (raising ``ProviderUnavailable`` when it cannot)."""


def fetch_json(url: str, *, timeout: float = 5.0) -> Mapping[str, Any]:
    """GET ``url`` and return its JSON object."""
    try:
        answer = httpx.get(url, timeout=timeout, follow_redirects=False)
        answer.raise_for_status()
        data = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProviderUnavailable(f"{url}: not a JSON object")
    return data


class OpenIdProvider:
    """One issuer's keys, kept in memory, and the checks its tokens must pass."""

    def __init__(
        self,
        issuer: str,
        *,
        audience: str | None = None,
        jwks_url: str | None = None,
        fetch: Fetch = fetch_json,
        refresh_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        """Exactly as the tokens' ``iss`` (some providers end it with a slash)."""
        self.audience = audience
        self._jwks_url = jwks_url
        self._fetch = fetch
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def jwks_url(self) -> str:
        """The key set's address: given, or the discovery document's ``jwks_uri``."""
        if self._jwks_url is None:
            meta = self._fetch(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            uri = meta.get("jwks_uri")
            if not isinstance(uri, str):
                raise ProviderUnavailable(f"{self.issuer}: the discovery document has no jwks_uri")
            self._jwks_url = uri
        return self._jwks_url

    def _refresh(self) -> None:
        data = self._fetch(self.jwks_url())
        keys: dict[str, PyJWK] = {}
        for jwk in data.get("keys", []):
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            try:
                key = PyJWK(jwk)
            except (jwt.PyJWTError, PyJWKClientError, ValueError):
                continue  # a key of a kind we do not use (e.g. RSA-OAEP for encryption)
            if key.key_id and key.algorithm_name in ALGORITHMS:
                keys[key.key_id] = key
        self._keys = keys
        self._fetched_at = self._clock()

    def key(self, kid: str) -> PyJWK:
        """The signing key ``kid``, fetching the key set when it is not known (at most one
        fetch every ``refresh_seconds``)."""
        found = self._keys.get(kid)
        if found is not None:
            return found
        with self._lock:
            found = self._keys.get(kid)
            if found is not None:
                return found
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at >= self._refresh_seconds:
                self._refresh()
            found = self._keys.get(kid)
        if found is None:
            raise jwt.InvalidKeyError(f"the issuer has no signing key '{kid}'")
        return found

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims once its signature, issuer, audience and expiry are checked;
        ``jwt.PyJWTError`` when one is not right, ``ProviderUnavailable`` when the keys
        cannot be fetched."""
        header = jwt.get_unverified_header(token)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError(f"algorithm {alg!r} is not accepted from the issuer")
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("the token names no key ('kid')")
        key = self.key(kid)
        required = ["exp", "iat", "sub", "iss"] + (["aud"] if self.audience else [])
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[key.algorithm_name],
            issuer=self.issuer,
            audience=self.audience,
            options={"require": required, "verify_aud": self.audience is not None},
        )
        return claims
