"""Signing in to the console with the real OpenID provider (the local Keycloak), in Debian's
chromium: the authorization-code flow with PKCE, the role from the token's claim (the
security team sees the breaches of the real breach service), a role the project does not
know refused with a page that says so, and signing out ending the provider's session too.
"""

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.breach.main import build_app as build_breach
from services.console.config import ConsoleSettings
from services.console.main import build_app as build_console
from tests.services.breach.conftest import settings as breach_settings
from tests.services.console.browser import CHROMIUM, Browser, axe, screenshots_dir, shot
from tests.services.registry.conftest import serving
from tests.support import oidc

pytestmark = [
    pytest.mark.xdist_group("oidc-provider"),
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]

SIGN_IN_LINK = "text=Sign in with your organisation's identity provider"


def provider_signs_in(page: Any, issuer: str, username: str) -> None:
    """On the provider's own sign-in page: the person's name and password."""
    page.wait_for_url(f"{issuer}/**")
    page.fill("#username", username)
    page.fill("#password", oidc.PASSWORD)
    page.click("#kc-login")
    page.wait_for_load_state()


def walk(console: str, issuer: str, shots: Path) -> None:
    """What a person does in the browser (sync Playwright, off the test's event loop)."""
    browser = Browser()
    try:
        page = browser.page()
        authorize: list[str] = []
        page.on(
            "request",
            lambda r: authorize.append(r.url) if "/openid-connect/auth?" in r.url else None,
        )
        page.goto(f"{console}/breaches")
        assert urlsplit(page.url).path == "/signin"
        page.click(SIGN_IN_LINK)
        provider_signs_in(page, issuer, oidc.USERS["security"])
        # back through /auth/callback to the page asked for, as the security team
        page.wait_for_url(f"{console}/breaches")
        assert page.locator("h1").inner_text() == "Breaches"
        assert "(security)" in page.locator("header").inner_text()
        asked = parse_qs(urlsplit(authorize[0]).query)
        assert asked["code_challenge_method"] == ["S256"] and asked["code_challenge"][0]
        assert asked["response_type"] == ["code"] and asked["nonce"][0]
        assert axe(page) == []
        shot(page, shots, "oidc-breaches")

        page.click("text=Sign out")
        page.wait_for_url(f"{console}/signin?signed_out=1")
        assert "You have signed out." in page.inner_text("main")
        # the provider's session ended too: signing in again asks for the password
        page.click(SIGN_IN_LINK)
        page.wait_for_url(f"{issuer}/**")
        assert page.locator("#password").is_visible()

        stranger = browser.page()
        stranger.goto(f"{console}/signin")
        stranger.click(SIGN_IN_LINK)
        provider_signs_in(stranger, issuer, oidc.USERS["unknown"])
        assert "Your role is not one the console knows" in stranger.inner_text("h1")
        said = stranger.inner_text("main")
        assert "janitor" in said and f"'{oidc.ROLE_CLAIM}'" in said
        assert axe(stranger) == []
        shot(stranger, shots, "oidc-unknown-role")
        stranger.goto(f"{console}/breaches")  # no session was begun
        assert urlsplit(stranger.url).path == "/signin"
        assert browser.left_machine == [] and browser.csp_reports == []
    finally:
        browser.close()


async def test_sign_in_with_the_provider_a_role_from_its_claim_and_sign_out(
    oidc_provider: oidc.Provider, schema_factory: Any
) -> None:
    accepting = oidc_provider.settings()
    breach = build_breach(breach_settings(schema_factory("oidc_console_breach"), **accepting))
    async with serving(breach) as breach_url:
        console = build_console(
            ConsoleSettings(
                breach_url=breach_url,
                oidc_client_id=oidc.CONSOLE_CLIENT,
                oidc_client_secret=oidc.CONSOLE_SECRET,
                log_level="WARNING",
                **accepting,
            )
        )
        async with serving(console) as url:
            await asyncio.to_thread(walk, url, oidc_provider.issuer, screenshots_dir())
