"""The console's provider sign-in up to the provider's door, with the provider's discovery
document faked: what the browser is sent with, and every way a callback is refused. The
whole flow against the real provider is tests/services/console/test_oidc_signin.py."""

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from services.console import oidc
from services.console.config import ConsoleSettings
from services.console.main import build_app
from tests.privacyctl.fakes import FakeApi

ISSUER = "https://id.example.test/realms/privacy"
META = {
    "issuer": ISSUER,
    "authorization_endpoint": ISSUER + "/protocol/openid-connect/auth",
    "token_endpoint": ISSUER + "/protocol/openid-connect/token",
    "jwks_uri": ISSUER + "/protocol/openid-connect/certs",
    "end_session_endpoint": ISSUER + "/protocol/openid-connect/logout",
}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(oidc, "_metadata", {})

    def provider(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/realms/privacy/.well-known/openid-configuration"
        return httpx.Response(200, json=META)

    settings = ConsoleSettings(
        log_level="WARNING",
        oidc_issuer=ISSUER,
        oidc_client_id="privacy-console",
        oidc_client_secret="secret",
    )
    app = build_app(settings, transport=FakeApi().transport())
    app.state.oidc_transport = httpx.MockTransport(provider)
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_the_sign_in_page_offers_the_provider(client: TestClient) -> None:
    page = client.get("/signin?next=/breaches")
    assert 'href="/auth/login?next=/breaches"' in page.text


def test_the_browser_goes_to_the_provider_with_pkce_a_state_and_a_nonce(
    client: TestClient,
) -> None:
    sent = client.get("/auth/login?next=/breaches", follow_redirects=False)
    assert sent.status_code == 303
    where = urlsplit(sent.headers["location"])
    assert f"{where.scheme}://{where.netloc}{where.path}" == META["authorization_endpoint"]
    asked = {k: v[0] for k, v in parse_qs(where.query).items()}
    assert asked["response_type"] == "code" and asked["client_id"] == "privacy-console"
    assert asked["redirect_uri"] == "http://127.0.0.1/auth/callback"
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["state"] and asked["nonce"] and "openid" in asked["scope"]
    cookie = sent.headers["set-cookie"]
    assert oidc.FLOW_COOKIE in cookie and "HttpOnly" in cookie and "Path=/auth" in cookie


def test_an_open_redirect_after_sign_in_is_refused(client: TestClient) -> None:
    sent = client.get("/auth/login?next=https://elsewhere.example/", follow_redirects=False)
    flow = oidc._signer(client.app.state.settings, oidc._FLOW_SALT).loads(  # type: ignore[attr-defined]
        sent.cookies[oidc.FLOW_COOKIE]
    )
    assert flow["next"] == "/"


def test_a_callback_this_browser_did_not_start_is_refused(client: TestClient) -> None:
    client.get("/auth/login", follow_redirects=False)
    answer = client.get("/auth/callback?code=abc&state=someone-elses")
    assert answer.status_code == 400
    assert "did not start in this browser" in answer.text


def test_a_callback_without_the_flow_cookie_is_refused(client: TestClient) -> None:
    answer = client.get("/auth/callback?code=abc&state=xyz")
    assert answer.status_code == 400 and "sign in again" in answer.text


def test_the_providers_refusal_is_shown(client: TestClient) -> None:
    answer = client.get(
        "/auth/callback?error=access_denied&error_description=the+person+said+no&state=x"
    )
    assert answer.status_code == 400
    assert "access_denied" in answer.text and "the person said no" in answer.text


def test_forms_may_lead_to_the_provider_and_nowhere_else(client: TestClient) -> None:
    policy = client.get("/signin").headers["content-security-policy"]
    assert "form-action 'self' https://id.example.test;" in policy


def test_without_a_provider_configured_there_is_no_provider_sign_in() -> None:
    app = build_app(ConsoleSettings(log_level="WARNING"), transport=FakeApi().transport())
    with TestClient(app, base_url="http://127.0.0.1") as plain:
        assert "/auth/login" not in plain.get("/signin").text
        refused = plain.get("/auth/login")
        assert refused.status_code == 400 and "no identity provider" in refused.text
        assert "form-action 'self';" in plain.get("/signin").headers["content-security-policy"]
