"""The device-code polling's pace (RFC 8628 §3.5) and the renewal of an expired provider
token, with the provider faked; against the real one: test_oidc_provider.py."""

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest

from privacyctl import config, core, oidc
from privacyctl.core import Cli, Exit, Failure

ISSUER = "https://id.test/realms/privacy"
META = {"token_endpoint": ISSUER + "/token", "device_authorization_endpoint": ISSUER + "/device"}


def provider_token(role: str, exp: float) -> str:
    """A token shaped like the provider's (the command line never checks signatures)."""
    return jwt.encode({"sub": "p-1", "privacy_role": role, "exp": int(exp)}, "k" * 32)


def test_polling_waits_the_interval_and_five_seconds_more_after_each_slow_down() -> None:
    answers = [
        {"error": "authorization_pending"},
        {"error": "slow_down"},
        {"error": "authorization_pending"},
        {"error": "slow_down"},
        {"access_token": "tok", "refresh_token": "ref"},
    ]
    polls: list[dict[str, list[str]]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        polls.append(parse_qs(request.content.decode()))
        answer = answers.pop(0)
        return httpx.Response(200 if "access_token" in answer else 400, json=answer)

    slept: list[float] = []
    grant = oidc.DeviceGrant("dev", "ABCD-EFGH", "https://id.test/activate", None, 2.0, 600.0, "v")
    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        body = oidc.poll_device_flow(http, META, "privacyctl", grant, sleep=slept.append)
    assert body["refresh_token"] == "ref"
    assert slept == [2.0, 2.0, 7.0, 7.0, 12.0]
    assert all(p["code_verifier"] == ["v"] for p in polls)


def test_the_device_request_carries_a_pkce_challenge_of_the_verifier() -> None:
    sent: list[dict[str, list[str]]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(parse_qs(request.content.decode()))
        body = {"device_code": "d", "user_code": "U", "verification_uri": "https://id.test/a"}
        return httpx.Response(200, json=body)

    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        grant = oidc.start_device_flow(http, META, "privacyctl")
    digest = hashlib.sha256(grant.code_verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert sent[0]["code_challenge"] == [challenge]
    assert sent[0]["code_challenge_method"] == ["S256"]


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> config.Profile:
    """A profile signed in with the provider an hour ago: its access token has expired."""
    monkeypatch.setenv("PRIVACYCTL_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.delenv("PRIVACYCTL_TOKEN", raising=False)
    stored = config.Profile(
        token=provider_token("auditor", time.time() - 60),
        refresh_token="refresh-1",
        issuer=ISSUER,
        role_claim="privacy_role",
    )
    config.save("default", stored)
    return stored


def provider(answer: httpx.Response, seen: list[dict[str, Any]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json=META)
        seen.append(parse_qs(request.content.decode()))
        return answer

    return httpx.MockTransport(handle)


def test_an_expired_token_is_renewed_and_saved(
    profile: config.Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = provider_token("auditor", time.time() + 300)
    seen: list[dict[str, Any]] = []
    answer = httpx.Response(200, json={"access_token": fresh, "refresh_token": "refresh-2"})
    monkeypatch.setattr(core, "OIDC_TRANSPORT", provider(answer, seen))
    assert Cli().profile.token == fresh
    assert seen == [
        {
            "grant_type": ["refresh_token"],
            "refresh_token": ["refresh-1"],
            "client_id": ["privacyctl"],
        }
    ]
    saved = json.loads(config.config_path().read_text())["default"]
    assert saved["token"] == fresh and saved["refresh_token"] == "refresh-2"


def test_a_token_still_valid_is_not_renewed(
    profile: config.Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile.token = provider_token("auditor", time.time() + 300)
    config.save("default", profile)

    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the provider was called: {request.url}")

    monkeypatch.setattr(core, "OIDC_TRANSPORT", httpx.MockTransport(never))
    assert Cli().profile.token == profile.token


def test_a_refused_renewal_asks_to_log_in_again(
    profile: config.Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "Session not active"}
    )
    monkeypatch.setattr(core, "OIDC_TRANSPORT", provider(answer, []))
    with pytest.raises(Failure) as refused:
        Cli().profile  # noqa: B018
    assert refused.value.code == Exit.AUTH
    assert "Session not active" in str(refused.value) and "privacyctl login" in str(
        refused.value.hint
    )
