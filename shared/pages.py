"""The pages every service serves (``/docs``, ``/asyncapi``), the static files they load
and the Content-Security-Policy that keeps every page of the project to its own origin.

No page loads anything from another origin: Swagger UI and the AsyncAPI viewer are the
pinned npm files in ``shared/static/vendor/`` (``manifest.toml``, ``make assets``),
served by the service itself under ``/static/``, and started by the project's own
scripts in ``shared/static/pages/`` rather than inline ones, so the policy needs no
``'unsafe-inline'``. A page with an inline block of its own (the breach's printable
record) names the block's hash with :func:`content_security_policy`.
"""

import base64
import hashlib
import html
import re
from collections.abc import Iterable
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ASYNCAPI_POLICY",
    "DEFAULT_POLICY",
    "ContentSecurityPolicy",
    "content_security_policy",
    "inline_blocks",
    "pages_router",
    "static_files",
]

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"
SWAGGER = f"{STATIC_PATH}/vendor/swagger-ui-dist"
ASYNCAPI = f"{STATIC_PATH}/vendor/@asyncapi/react-component"
OWN = f"{STATIC_PATH}/pages"


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy(
    *, styles: Iterable[str] = (), scripts: Iterable[str] = (), evaluates: bool = False
) -> str:
    """The policy of the project's pages: everything from the page's own origin and
    nothing from any other; ``styles`` and ``scripts`` are the exact texts of inline
    ``<style>`` and ``<script>`` blocks a page may run (by their hashes). ``evaluates``:
    the page's own scripts compile code at run time (``'unsafe-eval'``; the AsyncAPI
    viewer only)."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *(["'unsafe-eval'"] if evaluates else []), *map(_hash, scripts)],
        "style-src": ["'self'", *map(_hash, styles)],
        # Swagger UI's icons are SVG data: URIs in its stylesheet.
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def inline_blocks(source: str, tag: str) -> list[str]:
    """The texts of the inline ``<tag>`` blocks (``style``, ``script``) of a page's
    template, for :func:`content_security_policy`. Taken from the template, never from
    a rendered page, whose text may hold what a user wrote."""
    return re.findall(rf"<{tag}>(.*?)</{tag}>", source, flags=re.DOTALL)


DEFAULT_POLICY = content_security_policy()
"""The policy of every HTML response that does not set one of its own."""

ASYNCAPI_POLICY = content_security_policy(evaluates=True)
"""The AsyncAPI viewer's: the default with ``'unsafe-eval'``, which the viewer cannot do
without (its parser validates the document with Ajv, which compiles each JSON Schema into
a function with ``new Function``). Scripts still come from this origin only."""


class ContentSecurityPolicy:
    """ASGI middleware: every HTML response without a Content-Security-Policy gets
    :data:`DEFAULT_POLICY`. Other responses pass untouched."""

    def __init__(self, app: ASGIApp, policy: str = DEFAULT_POLICY) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if (
                    headers.get("content-type", "").startswith("text/html")
                    and "content-security-policy" not in headers
                ):
                    headers.append("Content-Security-Policy", self.policy)
            await send(message)

        await self.app(scope, receive, send_with_policy)


def static_files() -> StaticFiles:
    """The project's static files (``shared/static``), to mount at ``/static``."""
    return StaticFiles(directory=STATIC_DIR)


def _page(title: str, head: str, body: str, *, policy: str = DEFAULT_POLICY) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n{head}</head>\n<body>\n{body}</body>\n</html>\n",
        headers={"Content-Security-Policy": policy},
    )


def pages_router(title: str) -> APIRouter:
    """``/docs`` (Swagger UI on ``/openapi.json``) and ``/asyncapi`` (the AsyncAPI viewer
    on ``/asyncapi.json``), each loading only this service's own static files."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs", response_class=HTMLResponse)
    async def docs(request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", ""), quote=True)
        return _page(
            f"{title}: HTTP API",
            f'<link rel="icon" href="{root}{SWAGGER}/favicon-32x32.png">\n'
            f'<link rel="stylesheet" href="{root}{SWAGGER}/swagger-ui.css">\n'
            f'<link rel="stylesheet" href="{root}{OWN}/docs.css">\n',
            f'<div id="swagger-ui" data-openapi-url="{root}/openapi.json"></div>\n'
            f'<script src="{root}{SWAGGER}/swagger-ui-bundle.js"></script>\n'
            f'<script src="{root}{OWN}/docs.js"></script>\n',
        )

    @router.get("/asyncapi", response_class=HTMLResponse)
    async def asyncapi(request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", ""), quote=True)
        return _page(
            f"{title}: events (AsyncAPI)",
            '<link rel="icon" href="data:,">\n'
            f'<link rel="stylesheet" href="{root}{ASYNCAPI}/default.min.css">\n'
            f'<link rel="stylesheet" href="{root}{OWN}/asyncapi.css">\n',
            f'<main id="asyncapi" data-document-url="{root}/asyncapi.json"></main>\n'
            f'<script src="{root}{ASYNCAPI}/index.js"></script>\n'
            f'<script src="{root}{OWN}/asyncapi.js"></script>\n',
            policy=ASYNCAPI_POLICY,
        )

    return router
