"""One bootstrap for every service: HTTP app, Kafka broker, database, outbox relay.

A service's ``main.py`` calls :func:`create_app` with its settings, routes and
subscribers; tests build the very same app. Start-up order: migrate the schema, create
missing topics, start the outbox relay, then start consuming. Shut-down runs backwards.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route

from shared.db import Sessions, create_engine, create_sessions, migrate, ping
from shared.kafka import DeadLetterMiddleware, all_topics, broker_reachable, ensure_topics
from shared.logging import configure_logging, get_logger
from shared.relay import OutboxRelay
from shared.settings import ServiceSettings
from shared.telemetry import configure_tracing

log = get_logger(__name__)


class ServiceError(Exception):
    """Base of every service's own exceptions; ``status_code`` says how HTTP shows it."""

    status_code = 400

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


@dataclass
class Runtime:
    """What a running service holds: reached by routes and handlers alike."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: Sessions
    broker: KafkaBroker
    relay: OutboxRelay | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    readiness: dict[str, Callable[[], str | None]] = field(default_factory=dict)
    """A service's own readiness checks, by name: each returns what is wrong, or None."""


Hook = Callable[[Runtime], Awaitable[None]]


def create_broker(settings: ServiceSettings) -> KafkaBroker:
    """The service's Kafka broker, with tracing and dead-lettering on every subscriber."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        middlewares=[KafkaTelemetryMiddleware(), DeadLetterMiddleware],
        logger=get_logger(f"{settings.service_name}.kafka"),
        enable_idempotence=True,
    )


def create_app(
    *,
    settings: ServiceSettings,
    broker: KafkaBroker,
    routers: Sequence[APIRouter],
    migrations: Path,
    description: str,
    relay: bool = True,
    untraced_paths: Sequence[str] = (),
    on_start: Sequence[Hook] = (),
    on_stop: Sequence[Hook] = (),
) -> FastAPI:
    """Wire a service: routes, health, docs, error mapping, and the start-up sequence.

    ``untraced_paths`` are left out of the automatic HTTP tracing; their routes open
    their own spans where they need them (the consent decision API does).
    """
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    configure_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, settings.schema_name)
        runtime = Runtime(
            settings=settings, engine=engine, sessions=create_sessions(engine), broker=broker
        )
        app.state.runtime = runtime
        broker.context.set_global("runtime", runtime)
        try:
            await migrate(engine, migrations, settings.schema_name)
            if settings.kafka_create_topics:
                await ensure_topics(
                    settings.kafka_bootstrap_servers,
                    all_topics([settings.schema_name]),
                    partitions=settings.kafka_topic_partitions,
                    replication_factor=settings.kafka_replication_factor,
                )
            for hook in on_start:
                await hook(runtime)
            if relay:
                runtime.relay = OutboxRelay(
                    schema=settings.schema_name,
                    engine=engine,
                    database_url=settings.database_url,
                    bootstrap_servers=settings.kafka_bootstrap_servers,
                    batch_size=settings.outbox_batch_size,
                    poll_seconds=settings.outbox_poll_seconds,
                    retain_published=settings.outbox_retain_published,
                )
                await runtime.relay.start()
            await broker.start()
            log.info("service.started", port=settings.http_port)
            yield
        finally:
            await broker.stop()
            if runtime.relay:
                await runtime.relay.stop()
            for hook in on_stop:
                await hook(runtime)
            await engine.dispose()
            log.info("service.stopped")

    app = FastAPI(
        title=f"{settings.service_name} service",
        description=description,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    for router in routers:
        app.include_router(router)
    app.include_router(_operations_router(settings, broker, description))
    _install_error_handlers(app)
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=",".join(["healthz", "readyz", *untraced_paths]),
        exclude_spans=["receive", "send"],
    )
    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run ``app`` with uvicorn on the configured host and port, logging through structlog."""
    import uvicorn

    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
    )


def _operations_router(
    settings: ServiceSettings, broker: KafkaBroker, description: str
) -> APIRouter:
    router = APIRouter(tags=["operations"])
    spec = AsyncAPI(
        broker,
        title=f"{settings.service_name} service events",
        version="0.1.0",
        description=description,
    )

    alive = {"status": "ok", "service": settings.service_name}

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return alive

    # Probes hit this many times a second: a plain Starlette route ahead of the
    # documented one answers it without FastAPI's per-request machinery (the decision
    # API is served the same way, so its benchmark compares like with like).
    async def healthz_plain(_: Request) -> JSONResponse:
        return JSONResponse(alive)

    router.routes.insert(0, Route("/healthz", healthz_plain, include_in_schema=False))

    @router.get("/readyz", summary="Database and broker both answer", responses={503: {}})
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        checks: dict[str, str] = {}
        if runtime is None:
            checks["service"] = "starting"
        else:
            for name, probe in (
                ("database", ping(runtime.engine)),
                ("kafka", broker_reachable(settings.kafka_bootstrap_servers)),
            ):
                try:
                    await asyncio.wait_for(probe, 3)
                    checks[name] = "ok"
                except Exception as exc:
                    checks[name] = f"unreachable: {type(exc).__name__}"
            for name, check in runtime.readiness.items():
                checks[name] = check() or "ok"
        ready = all(v == "ok" for v in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/asyncapi.json", summary="The AsyncAPI document of this service's events")
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(spec.to_specification().to_jsonable())

    @router.get("/asyncapi", response_class=HTMLResponse, include_in_schema=False)
    async def asyncapi_html() -> HTMLResponse:
        return HTMLResponse(get_asyncapi_html(spec.to_specification(), try_it_out_path=None))

    return router


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def on_service_error(_: Request, exc: ServiceError) -> JSONResponse:
        detail: dict[str, Any] = {"error": type(exc).__name__, "message": exc.message}
        if exc.field:
            detail["field"] = exc.field
        for key, value in exc.extra.items():
            detail.setdefault(key, value)
        return JSONResponse({"detail": detail}, status_code=exc.status_code)

    @app.exception_handler(DBAPIError)
    async def on_unstorable_text(request: Request, exc: DBAPIError) -> JSONResponse:
        # PostgreSQL text cannot hold NUL; a value that slipped past validation with one
        # is the caller's mistake, not a server error.
        if isinstance(exc.orig, asyncpg.exceptions.CharacterNotInRepertoireError) or (
            "\\x00" in str(exc.orig) or "0x00" in str(exc.orig)
        ):
            detail = {"error": "InvalidRequest", "message": "a value contains a NUL character"}
            return JSONResponse({"detail": detail}, status_code=422)
        raise exc

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body"),
                "problem": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)
