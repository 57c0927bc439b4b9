"""Wiring only: the console's app (``build_app``) and its process (``main``)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.console import api, api_audit, api_people, oidc, signin, web
from services.console.bootstrap import bootstrap
from services.console.config import ConsoleSettings
from shared.app import serve
from shared.logging import configure_logging, get_logger

log = get_logger(__name__)


def build_app(
    settings: ConsoleSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The console: its pages, its static files, sign-in, errors as pages."""
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    runtime = bootstrap(settings, transport=transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("service.started", port=settings.http_port)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="console",
        description="The web console (docs/console.md).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.include_router(signin.router)
    app.include_router(oidc.router)
    app.include_router(api.router)
    app.include_router(api_audit.router)
    app.include_router(api_people.router)
    # the project's vendored assets (htmx) first, then the console's own
    app.mount("/static/vendor", StaticFiles(directory=web.STATIC / "vendor"), name="vendor")
    app.mount("/static", StaticFiles(directory=web.HERE / "static"), name="static")
    web.install(app)
    oidc.install(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        # ready when it can serve pages; each page says itself which service is not answering
        return JSONResponse({"status": "ready"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return web.error_page(request, 400, "Request refused", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = "Not found" if exc.status_code == 404 else "Request refused"
        return web.error_page(request, exc.status_code, title, str(exc.detail))

    return app


def main() -> None:
    """Serve the console."""
    settings = ConsoleSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
