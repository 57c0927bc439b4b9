"""Every service's /docs and /asyncapi, in a real browser that may reach nothing but this
machine: fully rendered from the service's own static files, with no request refused,
no Content-Security-Policy violation and no script error (issue 23).

The apps are built as the services' ``main`` builds them and served without their
start-up (no database or broker is needed: the pages and the documents they read are
the apps' routes alone). A screenshot of each page goes to the test's temporary directory,
or to ``SCREENSHOTS_DIR`` (``make screenshots`` writes docs/screenshots/).
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn

from tests.shared.test_pages import SERVICES, build
from tests.support.browser import (
    Watch,
    axe_violations,
    browser,
    describe,
    needs_chromium,
    offline_page,
    screenshot,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser

# Ten pages in a real browser take a minute or more on a busy two-core machine: kept out of
# `make test-fast`, run by `make test` and `make screenshots`.
pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
async def urls() -> AsyncIterator[dict[str, str]]:
    """The five apps served by uvicorn on free local ports, without their start-up."""
    servers, tasks, found = [], [], {}
    try:
        for service in SERVICES:
            server = uvicorn.Server(
                uvicorn.Config(
                    build(service),
                    host="127.0.0.1",
                    port=0,
                    lifespan="off",
                    log_config=None,
                    access_log=False,
                )
            )
            servers.append(server)
            tasks.append(asyncio.create_task(server.serve()))
            while not server.started:
                if tasks[-1].done():
                    tasks[-1].result()
                await asyncio.sleep(0.02)
            found[service] = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        yield found
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator["Browser"]:
    """One browser for the module; each test has a context of its own."""
    async with browser() as launched:
        yield launched


def assert_clean(watch: Watch) -> None:
    assert watch.blocked == [], "requests that left this machine"
    assert watch.csp_violations == [], "Content-Security-Policy violations"
    assert watch.page_errors == [], "uncaught script errors"
    assert watch.console_errors == [], "errors on the console"


@pytest.mark.parametrize("service", SERVICES)
async def test_docs_render_swagger_ui_with_nothing_from_elsewhere(
    urls: dict[str, str], chromium: "Browser", service: str, tmp_path: Path
) -> None:
    async with offline_page(chromium) as (page, watch):
        await page.goto(f"{urls[service]}/docs")
        await page.locator(".opblock").first.wait_for(timeout=30_000)
        title = await page.locator(".information-container .title").inner_text()
        assert f"{service} service" in title
        assert await page.locator(".opblock").count() >= 3  # the service's routes, listed
        assert await page.get_by_text("Failed to load API definition").count() == 0
        await screenshot(page, f"docs-{service}.png", tmp_path)
        assert_clean(watch)
        serious = await axe_violations(page)
        assert serious == [], describe(serious)


@pytest.mark.parametrize("service", SERVICES)
async def test_asyncapi_renders_the_events_with_nothing_from_elsewhere(
    urls: dict[str, str], chromium: "Browser", service: str, tmp_path: Path
) -> None:
    async with offline_page(chromium) as (page, watch):
        await page.goto(f"{urls[service]}/asyncapi")
        await page.locator("#operations").wait_for(timeout=30_000)
        document = await (await page.request.get(f"{urls[service]}/asyncapi.json")).json()
        shown = await page.locator("#operations").inner_text()
        # Every topic the service reads or writes is on the page.
        addresses = [channel["address"] for channel in document["channels"].values()]
        assert addresses and all(address in shown for address in addresses), addresses
        await screenshot(page, f"asyncapi-{service}.png", tmp_path)
        assert_clean(watch)
        serious = await axe_violations(page)
        assert serious == [], describe(serious)
