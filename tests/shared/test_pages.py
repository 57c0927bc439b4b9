"""Every service's pages (/docs, /asyncapi) load only the service's own static files, and
every HTML response of the project carries a Content-Security-Policy that forbids other
origins (issue 23). In a real browser: test_pages_offline.py."""

import functools
import importlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from shared.pages import (
    ASYNCAPI_POLICY,
    DEFAULT_POLICY,
    ContentSecurityPolicy,
    content_security_policy,
    inline_blocks,
)

SERVICES = ("registry", "consent", "audit", "breach", "notifier")


@functools.cache
def build(service: str) -> FastAPI:
    """``service``'s app as its ``main`` builds it (nothing started: no database or broker
    is reached until its lifespan runs), once per test run."""
    main = importlib.import_module(f"services.{service}.main")
    config = importlib.import_module(f"services.{service}.config")
    settings = getattr(config, f"{service.capitalize()}Settings")(log_level="WARNING")
    app: FastAPI = main.build_app(settings)
    return app


@pytest.fixture(params=SERVICES)
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app = build(request.param)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


async def test_the_pages_carry_the_policy_and_name_no_other_origin(
    client: httpx.AsyncClient,
) -> None:
    for path, policy in (("/docs", DEFAULT_POLICY), ("/asyncapi", ASYNCAPI_POLICY)):
        page = await client.get(path)
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == policy
        assert "://" not in page.text, f"{path} names another origin"
        assert "<script>" not in page.text and "<style>" not in page.text, "inline code"


async def test_the_files_the_pages_load_are_served_by_the_service(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/docs", "/asyncapi"):
        page = (await client.get(path)).text
        loaded = [part.split('"')[0] for part in page.split(' src="')[1:]]
        loaded += [part.split('"')[0] for part in page.split(' href="')[1:]]
        assert len(loaded) >= 4
        for url in loaded:
            if url.startswith("data:"):
                continue
            assert url.startswith("/static/"), url
            response = await client.get(url)
            assert response.status_code == 200, url
            assert response.content, url


async def test_redoc_and_the_oauth2_redirect_page_are_not_served(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/redoc", "/docs/oauth2-redirect", "/static/vendor/..%2f..%2fpages.py"):
        assert (await client.get(path)).status_code == 404


async def test_documents_and_errors_are_not_given_a_page_policy(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/openapi.json", "/asyncapi.json", "/no-such-route"):
        assert "content-security-policy" not in (await client.get(path)).headers


async def test_every_html_response_gets_the_policy_unless_it_sets_its_own() -> None:
    app = FastAPI()
    own = content_security_policy(styles=["p { color: red; }"])

    @app.get("/plain")
    async def plain() -> HTMLResponse:
        return HTMLResponse("<p>plain</p>")

    @app.get("/own")
    async def own_policy() -> HTMLResponse:
        return HTMLResponse("<p>own</p>", headers={"Content-Security-Policy": own})

    @app.get("/data")
    async def data() -> JSONResponse:
        return JSONResponse({"a": 1})

    app.add_middleware(ContentSecurityPolicy)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        assert (await client.get("/plain")).headers["content-security-policy"] == DEFAULT_POLICY
        assert (await client.get("/own")).headers.get_list("content-security-policy") == [own]
        assert "content-security-policy" not in (await client.get("/data")).headers


def test_the_policy_admits_this_origin_only_and_inline_code_by_hash() -> None:
    directives = dict(d.split(" ", 1) for d in DEFAULT_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in DEFAULT_POLICY and "*" not in DEFAULT_POLICY
    # The AsyncAPI viewer's parser compiles its validators at run time: that page alone
    # may evaluate code, still only from scripts of this origin.
    with_eval = DEFAULT_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")
    assert with_eval == ASYNCAPI_POLICY
    # The hash of "p { color: red; }", as `openssl dgst -sha256 -binary | base64` gives it.
    with_style = content_security_policy(styles=["p { color: red; }"])
    assert "style-src 'self' 'sha256-pckGv9YvNcB5xy+Y4fbqhyo+ib850wyiuWeNbZvLi00='" in with_style


def test_inline_blocks_are_read_from_a_template() -> None:
    source = "<head><style>a{}</style><style>\nb{}\n</style><script>x()</script></head>"
    assert inline_blocks(source, "style") == ["a{}", "\nb{}\n"]
    assert inline_blocks(source, "script") == ["x()"]
