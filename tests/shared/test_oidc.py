"""A provider's tokens: checked against its key set, mapped to a role, refused by name.

Keys made here, served by a fake fetch (the real provider, Keycloak, is in
tests/shared/test_oidc_provider.py); what is under test is our verification and mapping.
"""

import time
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from shared import auth
from shared.auth import (
    ClaimNames,
    InvalidToken,
    MissingClaim,
    Principal,
    Role,
    UnknownRole,
    decode_openid_token,
    mint_token,
    principal_from_claims,
    require,
    verified_tokens,
)
from shared.http_errors import install_error_handlers
from shared.oidc import OpenIdProvider, ProviderUnavailable
from shared.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings

ISSUER = "https://id.example.test/realms/privacy"
AUDIENCE = "privacy-events"
NAMES = ClaimNames("privacy_role", "org_id", "user_id")
Security = Annotated[Principal, Depends(require(Role.SECURITY))]


class Keys:
    """An RSA and an EC signing key, and a fake provider serving their public halves."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.published: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] = {
            "rsa-1": self.rsa,
            "ec-1": self.ec,
        }
        self.fetched: list[str] = []
        self.down = False

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.published.items():
            if isinstance(key, rsa.RSAPrivateKey):
                jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
                jwk |= {"alg": "RS256"}
            else:
                jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
                jwk |= {"alg": "ES256"}
            keys.append(jwk | {"kid": kid, "use": "sig"})
        keys.append({"kty": "RSA", "use": "enc", "kid": "enc-1", "n": "AQAB", "e": "AQAB"})
        return {"keys": keys}

    def fetch(self, url: str) -> Mapping[str, Any]:
        self.fetched.append(url)
        if self.down:
            raise ProviderUnavailable(f"{url}: ConnectError")
        if url.endswith("/.well-known/openid-configuration"):
            return {"issuer": ISSUER, "jwks_uri": ISSUER + "/certs"}
        return self.jwks()

    def token(self, kid: str = "rsa-1", **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": [AUDIENCE, "account"],
            "sub": "5d2c",
            "iat": now,
            "exp": now + 300,
            "privacy_role": "security",
        } | claims
        key = self.published.get(kid) or self.rsa
        alg = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(auth, "_verified", verified_tokens())
    monkeypatch.setattr(auth, "_providers", {})
    monkeypatch.setattr(auth, "_contexts", {})
    yield


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def provider(keys: Keys, clock: Clock | None = None) -> OpenIdProvider:
    keys.fetched.clear()
    keys.down = False
    return OpenIdProvider(ISSUER, audience=AUDIENCE, fetch=keys.fetch, clock=clock or Clock())


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_an_rs256_or_es256_token_of_the_issuer_names_its_role(keys: Keys, kid: str) -> None:
    principal = decode_openid_token(keys.token(kid), provider(keys), NAMES)
    assert principal == Principal(sub="5d2c", role=Role.SECURITY)


def test_the_keys_are_found_by_discovery_and_kept(keys: Keys) -> None:
    issuer = provider(keys)
    issuer.verify(keys.token("rsa-1"))
    issuer.verify(keys.token("ec-1"))
    assert keys.fetched == [ISSUER + "/.well-known/openid-configuration", ISSUER + "/certs"]


def test_a_verified_token_is_remembered_until_it_expires(keys: Keys) -> None:
    issuer = provider(keys)
    token = keys.token()
    calls: list[str] = []
    real = issuer.verify

    def counting(t: str) -> dict[str, Any]:
        calls.append(t)
        return real(t)

    issuer.verify = counting  # type: ignore[method-assign, assignment]
    assert decode_openid_token(token, issuer, NAMES) == decode_openid_token(token, issuer, NAMES)
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("claims", "problem"),
    [
        ({"iss": "https://elsewhere.test/realms/privacy"}, "(?i)issuer"),
        ({"aud": "account"}, "(?i)audience"),
        ({"exp": int(time.time()) - 5}, "(?i)expired"),
    ],
)
def test_a_token_for_another_issuer_audience_or_past_its_expiry_is_invalid(
    keys: Keys, claims: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidToken, match=problem):
        decode_openid_token(keys.token(**claims), provider(keys), NAMES)


def test_a_token_signed_by_another_key_is_invalid(keys: Keys) -> None:
    forged = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": 1, "exp": int(time.time()) + 60},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "rsa-1"},
    )
    with pytest.raises(InvalidToken, match="Signature"):
        decode_openid_token(forged, provider(keys), NAMES)


def test_an_hs256_token_signed_with_the_public_key_is_not_accepted_from_the_issuer(
    keys: Keys,
) -> None:
    confused = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": 1, "exp": int(time.time()) + 60},
        "public-key-as-a-shared-secret-0123456789",
        algorithm="HS256",
        headers={"kid": "rsa-1"},
    )
    with pytest.raises(InvalidToken, match="not accepted"):
        decode_openid_token(confused, provider(keys), NAMES)


def test_an_unknown_key_id_fetches_the_key_set_again_but_not_more_than_once_a_while(
    keys: Keys,
) -> None:
    clock = Clock()
    issuer = provider(keys, clock)
    issuer.verify(keys.token("rsa-1"))
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys.published["rsa-2"] = rotated
    try:
        clock.now += 11
        assert issuer.verify(keys.token("rsa-2"))["sub"] == "5d2c"  # rotation: fetched again
        assert len(keys.fetched) == 3
        with pytest.raises(jwt.InvalidKeyError, match="made-up"):
            issuer.verify(keys.token("made-up"))  # 0 s since the last fetch: none
        assert len(keys.fetched) == 3
        clock.now += 11
        with pytest.raises(jwt.InvalidKeyError, match="made-up"):
            issuer.verify(keys.token("made-up"))
        with pytest.raises(jwt.InvalidKeyError):
            issuer.verify(keys.token("made-up-again"))
        assert len(keys.fetched) == 4, "two unknown ids within 10 s make one fetch"
    finally:
        del keys.published["rsa-2"]


def test_an_unreachable_provider_is_a_503_not_a_401(keys: Keys) -> None:
    issuer = provider(keys)
    keys.down = True
    with pytest.raises(auth.IssuerUnavailable, match="could not be fetched"):
        decode_openid_token(keys.token(), issuer, NAMES)


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"privacy_role": "auditor"}, Principal(sub="s", role=Role.AUDITOR)),
        ({"privacy_role": ["offline_access", "admin"]}, Principal(sub="s", role=Role.ADMIN)),
        (
            {"privacy_role": "member_org", "org_id": "ph-dti"},
            Principal(sub="s", role=Role.MEMBER_ORG, org_id="ph-dti"),
        ),
        (
            {"privacy_role": "subject", "user_id": "u-1"},
            Principal(sub="s", role=Role.SUBJECT, user_id="u-1"),
        ),
    ],
)
def test_the_role_claim_maps_to_a_role(claims: dict[str, Any], expected: Principal) -> None:
    assert principal_from_claims({"sub": "s"} | claims, NAMES) == expected


def test_a_nested_claim_is_read_by_its_dotted_path() -> None:
    names = ClaimNames(role="realm_access.roles")
    claims = {"sub": "s", "realm_access": {"roles": ["default-roles-privacy", "auditor"]}}
    assert principal_from_claims(claims, names).role is Role.AUDITOR


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"privacy_role": "janitor"}, "'janitor'"),
        ({}, "no 'privacy_role' claim"),
        ({"privacy_role": ["auditor", "admin"]}, "more than one role"),
        ({"privacy_role": 7}, "names no role"),
    ],
)
def test_an_unknown_missing_or_ambiguous_role_is_refused_naming_the_claim(
    claims: dict[str, Any], says: str
) -> None:
    with pytest.raises(UnknownRole, match=says) as refused:
        principal_from_claims({"sub": "s"} | claims, NAMES)
    assert refused.value.field == "token.privacy_role"


@pytest.mark.parametrize(("role", "claim"), [("member_org", "org_id"), ("subject", "user_id")])
def test_a_role_without_its_id_is_refused_naming_the_claim(role: str, claim: str) -> None:
    with pytest.raises(MissingClaim) as refused:
        principal_from_claims({"sub": "s", "privacy_role": role}, NAMES)
    assert refused.value.field == f"token.{claim}"


def app_with_issuer(keys: Keys) -> TestClient:
    """A service's routes, its settings naming the issuer, the provider's keys faked."""
    settings = ServiceSettings(
        oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_role_claim="privacy_role"
    )
    app = FastAPI()
    app.state.settings = settings
    install_error_handlers(app)
    auth._providers[(ISSUER, AUDIENCE, None)] = provider(keys)

    @app.get("/breaches")
    async def breaches(principal: Security) -> dict[str, str]:
        return {"role": principal.role.value}

    return TestClient(app)


def test_a_service_accepts_the_issuers_token_and_still_its_own(keys: Keys) -> None:
    client = app_with_issuer(keys)
    own = mint_token(DEVELOPMENT_JWT_SECRET, role=Role.SECURITY)
    for token in (keys.token(), own):
        answer = client.get("/breaches", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"role": "security"}


def test_a_service_refuses_an_unknown_role_with_a_403_naming_the_claim(keys: Keys) -> None:
    client = app_with_issuer(keys)
    answer = client.get(
        "/breaches", headers={"Authorization": f"Bearer {keys.token(privacy_role='janitor')}"}
    )
    assert answer.status_code == 403
    detail = answer.json()["detail"]
    assert detail["error"] == "UnknownRole" and detail["field"] == "token.privacy_role"
    assert "janitor" in detail["message"]


def test_a_service_answers_401_for_a_provider_token_it_cannot_verify(keys: Keys) -> None:
    client = app_with_issuer(keys)
    answer = client.get(
        "/breaches", headers={"Authorization": f"Bearer {keys.token(aud='someone-else')}"}
    )
    assert answer.status_code == 401
    assert answer.json()["detail"]["error"] == "Unauthorized"


def test_without_an_issuer_configured_a_provider_token_is_refused() -> None:
    settings = ServiceSettings()
    token = Keys().token()
    with pytest.raises(InvalidToken):
        auth.token_principal(token, settings)


def test_production_requires_an_audience_with_an_issuer() -> None:
    with pytest.raises(ValueError, match="oidc_audience"):
        ServiceSettings(environment="production", jwt_secret="x" * 40, oidc_issuer=ISSUER)
