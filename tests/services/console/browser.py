"""What the console's browser tests share: the real stack with the console beside it,
Debian's chromium driven by Playwright, requests off this machine refused, axe-core's
check, screenshots.

The stack is ``tests.security.stack`` (the five services on free ports against the real
Kafka and PostgreSQL, a real SMTP server, seeded through the APIs); the console is served
by uvicorn on the stack's loop, pointed at those services.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from services.console.config import ConsoleSettings
from services.console.main import build_app
from shared.auth import Role
from tests.security import stack as security
from tests.services.console.conftest import token
from tests.services.registry.conftest import serving
from tests.support import ROOT

CHROMIUM = shutil.which("chromium")
AXE = ROOT / "shared/static/vendor/axe-core/axe.min.js"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def screenshots_dir() -> Path:
    """``SCREENSHOTS_DIR`` (``make screenshots`` gives docs/screenshots), else a temporary one."""
    wanted = os.environ.get("SCREENSHOTS_DIR")
    path = Path(wanted) if wanted else Path(tempfile.mkdtemp(prefix="console-shots-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class ConsoleStack:
    """The running stack, the console's URL, and the seeded data."""

    stack: security.Stack
    url: str
    seed: security.Seed
    shots: Path


def start() -> tuple[ConsoleStack, Any]:
    """The stack seeded, and the console beside it (refreshing every second)."""
    stack, stop = security.start()
    try:
        seed = security.seed(stack)
        urls: dict[str, Any] = {f"{name}_url": url for name, url in stack.urls.items()}
        settings = ConsoleSettings(log_level="WARNING", refresh_seconds=1, **urls)
        app = build_app(settings)
        serving_console = serving(app)
        url = stack.run(serving_console.__aenter__())
    except BaseException:
        stop()
        raise

    def stop_all() -> None:
        try:
            stack.run(serving_console.__aexit__(None, None, None))
        finally:
            stop()

    return ConsoleStack(stack, url, seed, screenshots_dir()), stop_all


class Browser:
    """One chromium, headless; each ``page`` has a context of its own, refuses every
    request that would leave this machine, and fails on a Content-Security-Policy report."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        assert CHROMIUM is not None
        self.chromium = self.playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS
        )
        self.left_machine: list[str] = []
        self.csp_reports: list[str] = []

    def page(self, *, javascript: bool = True) -> Any:
        """A fresh page (its own cookies)."""
        context = self.chromium.new_context(
            java_script_enabled=javascript,
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
        )

        def route(route: Any) -> None:
            host = urlsplit(route.request.url).hostname or ""
            if host in LOCAL_HOSTS or route.request.url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                self.left_machine.append(route.request.url)
                route.abort()

        context.route("**/*", route)
        page = context.new_page()

        def console(message: Any) -> None:
            if "Content Security Policy" in message.text:
                self.csp_reports.append(message.text)

        page.on("console", console)
        return page

    def close(self) -> None:
        self.chromium.close()
        self.playwright.stop()


def sign_in(page: Any, base: str, role: Role, **claims: str) -> None:
    """Sign in through the development form with a token of ``role``."""
    page.goto(f"{base}/signin")
    page.fill("#token", token(role, **claims))
    page.click("button[type=submit]")
    page.wait_for_load_state()


def axe(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, as 'rule: target' lines.
    It is served from the console's own vendored files (the CSP allows 'self' only)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    found = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ['violations']});
            return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
              .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
        }"""
    )
    return list(found)


def shot(page: Any, shots: Path, name: str) -> Path:
    """A full-page screenshot, docs/screenshots/console-<name>.png under ``make screenshots``."""
    path = shots / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def console_stack() -> Iterator[ConsoleStack]:
    running, stop = start()
    try:
        yield running
    finally:
        stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    opened = Browser()
    try:
        yield opened
    finally:
        opened.close()
