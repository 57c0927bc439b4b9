"""Bearer-token authentication: every HTTP call carries a JWT naming a role.

Roles: ``platform`` (platform services), ``member_org`` (with ``org_id``), ``auditor``,
``security``, ``subject`` (with ``user_id``) and ``admin``. Tokens are HS256-signed
with the stack's ``JWT_SECRET``; with ``OIDC_ISSUER`` set, an OpenID provider's RS256 or
ES256 tokens are accepted too, their role read from the claim ``OIDC_ROLE_CLAIM`` names
(``shared.oidc``, docs/oidc.md). Mint development tokens with
``python -m shared.auth --role subject --user-id <id>``.
"""

import argparse
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

import jwt
from cachetools import TLRUCache
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from shared.errors import ServiceError
from shared.oidc import OpenIdProvider, ProviderUnavailable

ALGORITHM = "HS256"


class Role(StrEnum):
    PLATFORM = "platform"
    MEMBER_ORG = "member_org"
    AUDITOR = "auditor"
    SECURITY = "security"
    SUBJECT = "subject"
    ADMIN = "admin"


class Principal(BaseModel):
    """Who is calling, as the token says."""

    model_config = ConfigDict(frozen=True)

    sub: str
    role: Role
    org_id: str | None = None
    user_id: str | None = None


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by us."""


class UnknownRole(ServiceError):
    """A provider's valid token whose role claim is missing or names no role of ours."""

    status_code = 403


class MissingClaim(ServiceError):
    """A provider's valid token without the organisation or the person its role needs."""

    status_code = 403


class IssuerUnavailable(ServiceError):
    """The OpenID provider's keys could not be fetched, so its token cannot be checked."""

    status_code = 503


def mint_token(
    secret: str,
    *,
    role: Role,
    sub: str | None = None,
    org_id: str | None = None,
    user_id: str | None = None,
    issuer: str = "privacy-events",
    ttl: timedelta = timedelta(hours=12),
) -> str:
    """A signed token for ``role``; member organisations need ``org_id``, subjects ``user_id``."""
    if role is Role.MEMBER_ORG and not org_id:
        raise ValueError("org_id: a member_org token must name its organisation")
    if role is Role.SUBJECT and not user_id:
        raise ValueError("user_id: a subject token must name its user")
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": sub or user_id or org_id or role.value,
        "role": role.value,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl,
    }
    if org_id:
        claims["org_id"] = org_id
    if user_id:
        claims["user_id"] = user_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str, *, issuer: str = "privacy-events") -> Principal:
    """Verify signature, expiry and issuer; return the principal.

    A verified token is remembered until it expires, so a caller sending the same token
    on every request pays for the signature check once.
    """
    key = (token, secret, issuer)
    verified = _verified.get(key)
    if verified is None:
        verified = _verified[key] = _verify(token, secret, issuer)
    return verified.principal


class Verified(NamedTuple):
    """A verified token's principal and its expiry (``exp``, seconds since the epoch)."""

    principal: Principal
    expires: float


def _until_expiry(_key: object, verified: Verified, _now: float) -> float:
    return verified.expires


def verified_tokens(
    maxsize: int = 10_000, clock: Callable[[], float] = time.time
) -> TLRUCache[tuple[str, str, str], Verified]:
    """A bounded cache of verified tokens in which each lives only until its own ``exp``.

    TLRU rather than TTL: every entry has its own expiry, the token's; ``clock`` must
    count seconds since the epoch, as ``exp`` does. Used on the event loop only, so
    without a lock.
    """
    return TLRUCache(maxsize=maxsize, ttu=_until_expiry, timer=clock)


_verified = verified_tokens()


def _verify(token: str, secret: str, issuer: str) -> Verified:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
        principal = Principal.model_validate(claims)
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc
    if principal.role is Role.MEMBER_ORG and not principal.org_id:
        raise InvalidToken("a member_org token must carry org_id")
    if principal.role is Role.SUBJECT and not principal.user_id:
        raise InvalidToken("a subject token must carry user_id")
    return Verified(principal, float(claims["exp"]))


class ClaimNames(NamedTuple):
    """Where a provider's token keeps the role, the organisation and the person: a claim's
    name, or a dotted path into nested claims (``realm_access.roles``)."""

    role: str = "role"
    org_id: str = "org_id"
    user_id: str = "user_id"


_ROLES = frozenset(r.value for r in Role)


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by its name, else by a dotted path through nested objects; None if absent."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def principal_from_claims(claims: Mapping[str, Any], names: ClaimNames) -> Principal:
    """The caller a provider's verified token names: the role from its role claim (a string,
    or a list holding exactly one of our roles), with the organisation or person it needs.

    Raises ``UnknownRole`` or ``MissingClaim`` (403), naming the claim.
    """
    raw = claim(claims, names.role)
    field = f"token.{names.role}"
    allowed = ", ".join(sorted(_ROLES))
    if raw is None:
        raise UnknownRole(
            f"the token has no '{names.role}' claim, so it names no role; roles: {allowed}",
            field=field,
        )
    values = raw if isinstance(raw, list) else [raw]
    roles = {v for v in values if isinstance(v, str) and v in _ROLES}
    if len(roles) != 1:
        shown = repr(raw)[:100]
        what = "no role" if not roles else "more than one role"
        raise UnknownRole(
            f"the token's '{names.role}' claim ({shown}) names {what} of this project; "
            f"roles: {allowed}",
            field=field,
        )
    role = Role(roles.pop())
    ids = {"org_id": claim(claims, names.org_id), "user_id": claim(claims, names.user_id)}
    ids = {k: v if isinstance(v, str) and v else None for k, v in ids.items()}
    needed = {Role.MEMBER_ORG: ("org_id", names.org_id), Role.SUBJECT: ("user_id", names.user_id)}
    if role in needed:
        kind, name = needed[role]
        if ids[kind] is None:
            raise MissingClaim(
                f"a {role.value} token must carry its {kind} in the '{name}' claim",
                field=f"token.{name}",
            )
    return Principal(sub=str(claims["sub"]), role=role, **ids)


_providers: dict[tuple[str, str | None, str | None], OpenIdProvider] = {}


def openid_provider(
    issuer: str, audience: str | None = None, jwks_url: str | None = None
) -> OpenIdProvider:
    """The one ``OpenIdProvider`` of this process for ``issuer`` (its keys kept between calls)."""
    key = (issuer, audience, jwks_url)
    provider = _providers.get(key)
    if provider is None:
        provider = _providers[key] = OpenIdProvider(issuer, audience=audience, jwks_url=jwks_url)
    return provider


def decode_openid_token(token: str, provider: OpenIdProvider, names: ClaimNames) -> Principal:
    """Verify a provider's token and map its claims; remembered until it expires, as
    ``decode_token`` does. ``InvalidToken`` (401), ``UnknownRole``/``MissingClaim`` (403),
    ``IssuerUnavailable`` (503)."""
    key = _openid_key(token, provider, names)
    verified = _verified.get(key)
    if verified is None:
        try:
            claims = provider.verify(token)
        except ProviderUnavailable as exc:
            raise IssuerUnavailable(
                f"the OpenID provider's keys could not be fetched, so the token cannot be "
                f"checked: {exc}",
                field="header.authorization",
            ) from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(str(exc)) from exc
        verified = Verified(principal_from_claims(claims, names), float(claims["exp"]))
        _verified[key] = verified
    return verified.principal


def _openid_key(token: str, provider: OpenIdProvider, names: ClaimNames) -> tuple[str, str, str]:
    return (token, provider.issuer, "|".join(names))


_contexts: dict[tuple[Any, ...], tuple[OpenIdProvider, ClaimNames, str]] = {}


def _openid_context(settings: Any) -> tuple[OpenIdProvider, ClaimNames, str]:
    """The provider and claim names the settings name, made once (this is on every request
    that carries a provider's token)."""
    key = (
        settings.oidc_issuer,
        settings.oidc_audience,
        settings.oidc_jwks_url,
        settings.oidc_role_claim,
        settings.oidc_org_claim,
        settings.oidc_user_claim,
    )
    context = _contexts.get(key)
    if context is None:
        provider = openid_provider(key[0], key[1], key[2])
        names = ClaimNames(key[3], key[4], key[5])
        context = _contexts[key] = (provider, names, "|".join(names))
    return context


def _algorithm(token: str) -> str | None:
    try:
        alg = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    return alg if isinstance(alg, str) else None


def token_principal(token: str, settings: Any) -> Principal:
    """The caller a token names, by the stack's settings: an HS256 token of the stack's own
    secret; with ``oidc_issuer`` set, also the provider's RS256/ES256 tokens."""
    secret = settings.jwt_secret.get_secret_value()
    issuer = settings.oidc_issuer
    if issuer is None:
        return decode_token(token, secret, issuer=settings.jwt_issuer)
    known = _verified.get((token, secret, settings.jwt_issuer))
    if known is not None:
        return known.principal
    provider, names, scope = _openid_context(settings)
    known = _verified.get((token, provider.issuer, scope))
    if known is not None:
        return known.principal
    # Neither remembered: the header says whose it claims to be (verified next).
    if _algorithm(token) == ALGORITHM:
        return decode_token(token, secret, issuer=settings.jwt_issuer)
    return decode_openid_token(token, provider, names)


_bearer = HTTPBearer(
    auto_error=False,
    description="A JWT minted by the platform, or an access token of the configured OpenID "
    "provider (OIDC_ISSUER).",
)


def principal_from_request(request: Request, *roles: Role) -> Principal:
    """The caller, checked without FastAPI's dependency machinery (for hot paths)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    principal = _principal(request, token if scheme.lower() == "bearer" and token else None)
    if principal.role not in roles:
        names = ", ".join(sorted(r.value for r in roles))
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"role '{principal.role.value}' may not call this; allowed: {names}",
        )
    return principal


def _principal(request: Request, token: str | None) -> Principal:
    unauthorized = {"WWW-Authenticate": "Bearer"}
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers=unauthorized
        )
    try:
        return token_principal(token, request.app.state.settings)
    except InvalidToken as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}", headers=unauthorized
        ) from exc


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def authenticate(request: Request, credentials: Credentials) -> Principal:
    """The caller, or 401."""
    return _principal(request, credentials.credentials if credentials else None)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only ``roles``: 401 without a valid token, 403 for others."""
    allowed = frozenset(roles)
    names = ", ".join(sorted(r.value for r in allowed))

    # One level of dependencies, not two: this sits on the decision API's hot path.
    async def check(request: Request, credentials: Credentials) -> Principal:
        principal = _principal(request, credentials.credentials if credentials else None)
        if principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role '{principal.role.value}' may not call this; allowed: {names}",
            )
        return principal

    return check


def main() -> None:
    """Print a development token."""
    from shared.settings import ServiceSettings

    parser = argparse.ArgumentParser(description="Mint a bearer token for development.")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--org-id")
    parser.add_argument("--user-id")
    parser.add_argument("--sub")
    parser.add_argument("--hours", type=float, default=12)
    args = parser.parse_args()
    settings = ServiceSettings()
    try:
        token = mint_token(
            settings.jwt_secret.get_secret_value(),
            role=Role(args.role),
            sub=args.sub,
            org_id=args.org_id,
            user_id=args.user_id,
            issuer=settings.jwt_issuer,
            ttl=timedelta(hours=args.hours),
        )
    except ValueError as exc:
        parser.error(str(exc))
    import sys

    sys.stdout.write(token + "\n")


if __name__ == "__main__":
    main()
