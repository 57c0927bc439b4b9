"""Bearer-token authentication: every HTTP call carries a JWT naming a role.

Roles: ``platform`` (platform services), ``member_org`` (with ``org_id``), ``auditor``,
``security``, ``subject`` (with ``user_id``) and ``admin``. Tokens are HS256-signed
with the stack's ``JWT_SECRET``. Mint development tokens with
``python -m shared.auth --role subject --user-id <id>``.
"""

import argparse
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

import jwt
from cachetools import TLRUCache
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

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


_bearer = HTTPBearer(auto_error=False, description="A JWT minted by the platform.")


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
    settings = request.app.state.settings
    try:
        return decode_token(
            token,
            settings.jwt_secret.get_secret_value(),
            issuer=settings.jwt_issuer,
        )
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
