"""Token verification and its cache: never a principal past its token's expiry."""

import time
from collections.abc import Iterator
from datetime import timedelta

import jwt
import pytest

from shared import auth
from shared.auth import InvalidToken, Role, decode_token, mint_token, verified_tokens

SECRET = "a-test-secret-that-is-long-enough-0000"


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(auth, "_verified", verified_tokens())
    yield


def counting_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the signature checks (``jwt.decode`` calls) from here on."""
    calls: list[str] = []
    real = jwt.decode

    def decode(token: str, *args: object, **kwargs: object) -> object:
        calls.append(token)
        return real(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", decode)
    return calls


def test_a_token_is_verified_once_while_it_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = counting_decodes(monkeypatch)
    token = mint_token(SECRET, role=Role.MEMBER_ORG, org_id="ph-dti")
    first, again = decode_token(token, SECRET), decode_token(token, SECRET)
    assert first == again
    assert first.org_id == "ph-dti"
    assert checks == [token]


def test_the_cache_never_returns_a_principal_once_its_token_expired() -> None:
    token = mint_token(SECRET, role=Role.PLATFORM, ttl=timedelta(seconds=1))
    assert decode_token(token, SECRET).role is Role.PLATFORM
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(InvalidToken, match="expired"):
        decode_token(token, SECRET)


def test_an_entry_lives_until_its_own_tokens_expiry_not_a_fixed_time() -> None:
    now = [1_000.0]
    cache = verified_tokens(clock=lambda: now[0])
    principal = auth.Principal(sub="platform", role=Role.PLATFORM)
    cache[("short", SECRET, "i")] = auth.Verified(principal, expires=1_010.0)
    cache[("long", SECRET, "i")] = auth.Verified(principal, expires=5_000.0)
    now[0] = 1_009.9
    assert ("short", SECRET, "i") in cache
    now[0] = 1_010.0
    assert ("short", SECRET, "i") not in cache
    assert ("long", SECRET, "i") in cache
    now[0] = 5_000.0
    assert ("long", SECRET, "i") not in cache


def test_an_already_expired_token_is_never_cached() -> None:
    token = mint_token(SECRET, role=Role.PLATFORM, ttl=timedelta(seconds=-5))
    with pytest.raises(InvalidToken):
        decode_token(token, SECRET)
    assert len(auth._verified) == 0


def test_a_token_cached_under_one_secret_is_refused_under_another() -> None:
    token = mint_token(SECRET, role=Role.ADMIN)
    decode_token(token, SECRET)
    with pytest.raises(InvalidToken, match="Signature"):
        decode_token(token, "another-secret-that-is-long-enough-000")
    with pytest.raises(InvalidToken, match="issuer"):
        decode_token(token, SECRET, issuer="someone-else")


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_verified", verified_tokens(maxsize=3))
    tokens = [mint_token(SECRET, role=Role.SUBJECT, user_id=f"u-{n}") for n in range(5)]
    for token in tokens:
        decode_token(token, SECRET)
    assert len(auth._verified) == 3
    checks = counting_decodes(monkeypatch)
    assert decode_token(tokens[0], SECRET).user_id == "u-0"  # evicted, so checked again
    assert checks == [tokens[0]]
