"""One bootstrap for every service: HTTP app, Kafka broker, database, outbox relay.

A service's ``main.py`` calls :func:`create_app` with its settings, routes, subscribers
and its ``bootstrap`` (which builds the service's typed :class:`Runtime`); tests build
the very same app. Start-up order: migrate the schema, create missing topics, bootstrap
and start the runtime, start the outbox relay, then start consuming. Shut-down runs
backwards.
"""

import asyncio
import contextlib
import gc
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from shared.db import Sessions, create_engine, create_sessions, migrate_service, ping
from shared.errors import ERROR_RESPONSES, ServiceError, error_body
from shared.kafka import DeadLetterMiddleware, all_topics, broker_reachable, ensure_topics
from shared.logging import configure_logging, get_logger
from shared.relay import OutboxRelay
from shared.settings import ServiceSettings
from shared.telemetry import configure_tracing

log = get_logger(__name__)


@dataclass(kw_only=True)
class Infrastructure:
    """What every service is given before its own parts are built."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: Sessions
    broker: KafkaBroker


@dataclass(kw_only=True)
class Runtime(Infrastructure):
    """A running service: its infrastructure and, in a subclass, its own typed parts.

    Each service declares one subclass in its ``bootstrap.py`` (the parts it runs as
    typed fields), built by one ``bootstrap`` function that tests can call with fakes.
    Routes reach it through :func:`runtime_of`, subscribers through
    ``Context("runtime")``.
    """

    relay: OutboxRelay | None = None
    readiness: dict[str, Callable[[], str | None]] = field(default_factory=dict)
    """A service's own readiness checks, by name: each returns what is wrong, or None."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Start the service's own parts: after migration, before the relay and consumers."""

    async def stop(self) -> None:
        """Stop what :meth:`start` started; the base cancels the background jobs."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()

    def every(self, seconds: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
        """Run ``job`` every ``seconds`` until the service stops, on one replica at a time;
        a failure is logged and the next round retries."""
        name = f"{self.settings.service_name}.{name}"
        lock = f"{self.settings.schema_name}.{name}"
        self.tasks.append(asyncio.create_task(_every(seconds, name, job, self.engine, lock)))


# A round runs only where this session lock was free: replicas of a service share the
# schema, and two rounds at once would judge, fire or sign the same rows twice (the
# loser failing on a unique key, or waiting on the winner's row locks).
_TRY_JOB_LOCK = text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))")
_JOB_UNLOCK = text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))")


async def run_exclusive(
    engine: AsyncEngine, lock: str, job: Callable[[], Awaitable[object]]
) -> bool:
    """Run ``job`` unless a replica holds ``lock`` (then skip it); return whether it ran."""
    async with engine.connect() as conn:
        # Autocommit: the lock outlives statements, and no transaction idles for the round.
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        if not await conn.scalar(_TRY_JOB_LOCK, {"k": lock}):
            return False
        try:
            await job()
        finally:
            await conn.execute(_JOB_UNLOCK, {"k": lock})
    return True


async def _every(
    seconds: float, name: str, job: Callable[[], Awaitable[object]], engine: AsyncEngine, lock: str
) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_exclusive(engine, lock, job)
        except Exception as exc:
            log.warning("job.failed", job=name, error=repr(exc))


R = TypeVar("R", bound=Runtime)
Bootstrap = Callable[[Infrastructure], Awaitable[Runtime]]


async def plain_runtime(infra: Infrastructure) -> Runtime:
    """The bootstrap of a service that runs nothing beyond its infrastructure."""
    return Runtime(**vars(infra))


def current_runtime(request: Request, cls: type[R]) -> R:
    """The running service's runtime, as the type the service declared."""
    runtime = getattr(request.app.state, "runtime", None)
    if not isinstance(runtime, cls):
        raise RuntimeError(f"the service is not running a {cls.__name__}")
    return runtime


def runtime_of(cls: type[R]) -> Callable[[Request], Awaitable[R]]:
    """A FastAPI dependency giving the running service's typed runtime."""

    # Async on purpose: FastAPI runs sync dependencies in a thread pool.
    async def get(request: Request) -> R:
        return current_runtime(request, cls)

    return get


async def _sessions(request: Request) -> Sessions:
    return current_runtime(request, Runtime).sessions


SessionsDep = Annotated[Sessions, Depends(_sessions)]
"""The service's database sessions, for a route."""


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
    bootstrap: Bootstrap = plain_runtime,
    relay: bool = True,
    untraced_paths: Sequence[str] = (),
    topics: Sequence[str] | None = None,
) -> FastAPI:
    """Wire a service: routes, health, docs, error mapping, and the start-up sequence.

    ``bootstrap`` builds the service's typed runtime once its schema is migrated.
    ``topics``: the ones the service consumes and publishes (its ``topics.py``), made
    with its prefix and their DLQs if missing; by default, every catalogue topic.

    ``untraced_paths`` are left out of the automatic HTTP tracing; their routes open
    their own spans where they need them (the consent decision API does).
    """
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    configure_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            settings.schema_name,
            pool_size=settings.db_pool_size,
            topic_prefix=settings.topic_prefix,
        )
        infra = Infrastructure(
            settings=settings, engine=engine, sessions=create_sessions(engine), broker=broker
        )
        runtime: Runtime | None = None
        try:
            await migrate_service(engine, migrations, settings)
            if settings.kafka_create_topics:
                await ensure_topics(
                    settings.kafka_bootstrap_servers,
                    all_topics([settings.schema_name], prefix=settings.topic_prefix, names=topics),
                    partitions=settings.kafka_topic_partitions,
                    replication_factor=settings.kafka_replication_factor,
                )
            runtime = await bootstrap(infra)
            app.state.runtime = runtime
            broker.context.set_global("runtime", runtime)
            await runtime.start()
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
            if getattr(app.state, "freeze_heap", False):
                _freeze_heap()
            log.info("service.started", port=settings.http_port)
            yield
        finally:
            await _bounded("consumers", broker.stop())
            if runtime is not None:
                if runtime.relay:
                    await _bounded("relay", runtime.relay.stop())
                await _bounded("runtime", runtime.stop())
            await _bounded("database pool", engine.dispose())
            log.info("service.stopped")

    app = FastAPI(
        title=f"{settings.service_name} service",
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.settings = settings
    for router in routers:
        app.include_router(router)
    app.include_router(_operations_router(settings, broker, description))
    _install_error_handlers(app)
    _document_errors_as_json(app)
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=",".join(["healthz", "readyz", *untraced_paths]),
        exclude_spans=["receive", "send"],
    )
    return app


STOP_STEP_SECONDS = 20.0
"""How long each step of a service's shutdown may take before the next one goes ahead."""


async def _bounded(step: str, stopping: Awaitable[None]) -> None:
    """Wait for one step of the shutdown, at most STOP_STEP_SECONDS: a step that hangs
    (a consumer leaving a group the broker no longer answers for, say) is logged and
    left, so that the steps after it still run and the process still ends."""
    try:
        await asyncio.wait_for(stopping, STOP_STEP_SECONDS)
    except TimeoutError:
        log.error("service.stop_step_timed_out", step=step, seconds=STOP_STEP_SECONDS)


def _freeze_heap() -> None:
    """Leave what start-up made out of the collector's full collections.

    The frameworks' start-up leaves a large heap (routes, models, schemas, the ORM's
    mappings) that lives as long as the process, and every full collection walked it:
    measured on the registry's read path, those pauses put p99 at 80-110 ms against a
    p50 of 10-13 ms; frozen, p99 is 17-23 ms. Only a served process does it
    (:func:`serve`): a test run starts many apps in one process, and whatever is frozen
    there is never collected.
    """
    gc.collect()
    gc.freeze()


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run ``app`` with uvicorn on the configured host and port, logging through structlog."""
    import uvicorn

    app.state.freeze_heap = True  # a process of its own: see _freeze_heap
    config = uvicorn.Config(
        app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
    )
    if not settings.http_reuse_port:
        uvicorn.Server(config).run()
        return
    uvicorn.Server(config).run(sockets=[shared_port(settings.http_host, settings.http_port)])


def shared_port(host: str, port: int) -> socket.socket:
    """A socket bound with SO_REUSEPORT, which other processes may bind too (uvicorn binds
    without it): the kernel spreads the connections among the replicas on the port."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


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


def _document_errors_as_json(app: FastAPI) -> None:
    """Errors are JSON on every route: FastAPI documents a route's extra responses in the
    route's own media type (text/html for a page, text/csv for an export), so move them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if str(status).startswith(("4", "5")) and "application/json" not in content:
                            for media in list(content):
                                content["application/json"] = content.pop(media)
                                break
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def on_service_error(_: Request, exc: ServiceError) -> JSONResponse:
        body = error_body(type(exc).__name__, exc.message, field=exc.field, **exc.extra)
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Authentication (401, 403) and routing (404, 405) errors, in the same shape.
        try:
            name = HTTPStatus(exc.status_code).phrase.title().replace(" ", "")
        except ValueError:
            name = "HTTPError"
        return JSONResponse(
            error_body(name, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DBAPIError)
    async def on_unstorable_text(request: Request, exc: DBAPIError) -> JSONResponse:
        # PostgreSQL text cannot hold NUL; a value that slipped past validation with one
        # is the caller's mistake, not a server error.
        if isinstance(exc.orig, asyncpg.exceptions.CharacterNotInRepertoireError) or (
            "\\x00" in str(exc.orig) or "0x00" in str(exc.orig)
        ):
            body = error_body("InvalidRequest", "a value contains a NUL character")
            return JSONResponse(body, status_code=422)
        raise exc

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body"),
                "problem": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        field = problems[0]["field"] if problems else None
        message = f"{field}: {problems[0]['problem']}" if problems else "invalid request"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more)"
        body = error_body("InvalidRequest", message, field=field or None, problems=problems)
        return JSONResponse(body, status_code=422)
