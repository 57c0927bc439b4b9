"""A real browser for the tests: Debian's Chromium driven by Playwright, kept off every
origin but this machine's, with axe-core's accessibility checks and screenshots.

    async with browser() as chromium:
        async with offline_page(chromium) as (page, watch):
            await page.goto(url)
            ...
            assert watch.blocked == [] and watch.csp_violations == []
            assert await serious_violations(page) == []
            await screenshot(page, "docs-registry.png", tmp_path)

Skip a module with ``pytestmark = needs_chromium``: without ``/usr/bin/chromium`` (or
Playwright) there is no browser to drive, and none is ever downloaded
(``bash deploy/local/browser.sh install`` installs Debian's).
"""

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from shared.pages import STATIC_DIR

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page, Route

CHROMIUM = shutil.which("chromium")
try:
    import playwright.async_api  # noqa: F401
except ImportError:  # pragma: no cover - the dev dependencies include it
    HAVE_PLAYWRIGHT = False
else:
    HAVE_PLAYWRIGHT = True

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or not HAVE_PLAYWRIGHT,
    reason="chromium (bash deploy/local/browser.sh install) or playwright is not installed",
)
"""Mark a module or test that drives the browser."""

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
"""Chromium's flags, as the notices' screenshot test starts it: no sandbox (the tests run
as root), and none of its own calls home."""

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
"""The only hosts a page under test may reach."""

AXE = STATIC_DIR / "vendor" / "axe-core" / "axe.min.js"
"""axe-core, vendored (shared/static/vendor/manifest.toml); injected by the tests, loaded
by no page of the project."""

SERIOUS = frozenset({"serious", "critical"})


@asynccontextmanager
async def browser() -> AsyncIterator["Browser"]:
    """Debian's Chromium, headless, through Playwright (its executable path: Playwright's
    own browser builds are never installed)."""
    from playwright.async_api import async_playwright

    assert CHROMIUM is not None, "mark the test with needs_chromium"
    async with async_playwright() as driver:
        chromium = await driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class Watch:
    """What a page did that a test should see: requests refused for leaving this machine,
    Content-Security-Policy violations, errors on the console, uncaught exceptions."""

    blocked: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def on_console(self, message: "ConsoleMessage") -> None:
        """Sort a console message: a CSP report, another error, or nothing to note."""
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.csp_violations.append(text)
        elif message.type == "error":
            self.console_errors.append(text)


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`Content Security Policy: ${event.violatedDirective} blocked ` +
                `${event.blockedURI || "inline code"} at ${event.sourceFile}:${event.lineNumber}`);
});
"""
"""Added to every document before its own scripts (by the browser, not as an inline script
the page's policy would refuse): each violation is reported on the console too."""


@asynccontextmanager
async def offline_page(
    chromium: "Browser", *, width: int = 1280, height: int = 900, javascript: bool = True
) -> AsyncIterator[tuple["Page", Watch]]:
    """A page in a fresh context that aborts every request leaving this machine, and the
    :class:`Watch` of what it did."""
    context = await chromium.new_context(
        viewport={"width": width, "height": height},
        java_script_enabled=javascript,
        service_workers="block",
    )
    watch = Watch()

    async def local_only(route: "Route") -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            watch.blocked.append(url)
            await route.abort("blockedbyclient")

    await context.route("**/*", local_only)
    await context.add_init_script(CSP_LISTENER)
    page = await context.new_page()
    page.on("console", watch.on_console)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    try:
        yield page, watch
    finally:
        await context.close()


async def axe_violations(page: "Page", *, impacts: frozenset[str] = SERIOUS) -> list[Any]:
    """axe-core's violations on the page as it is now, of the given impacts (serious and
    critical by default): each with its rule id, impact, help and the nodes at fault.

    axe is evaluated through the browser's debugging protocol, which the page's
    Content-Security-Policy does not govern, so the policy under test stays as served."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found: list[Any] = await page.evaluate(
        """async () => {
            const results = await axe.run(document, {resultTypes: ["violations"]});
            return results.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 10),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in impacts]


def describe(violations: list[Any]) -> str:
    """axe's violations as lines a failing assertion can show."""
    return "\n".join(
        f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['nodes'])}" for v in violations
    )


async def screenshot(page: "Page", name: str, fallback: Path, *, full_page: bool = False) -> Path:
    """Save the page as ``name`` (a PNG) in ``SCREENSHOTS_DIR`` when it is set
    (``make screenshots`` sets docs/screenshots), else in ``fallback`` (the test's
    temporary directory)."""
    out = Path(os.environ.get("SCREENSHOTS_DIR") or fallback)
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    await page.screenshot(path=str(path), full_page=full_page)
    return path
