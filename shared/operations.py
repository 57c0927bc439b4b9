"""The routes every service answers besides its own: health, readiness, the AsyncAPI
document (its page, ``/asyncapi``, is in ``shared/pages.py``)."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from starlette.routing import Route

from shared.db import ping
from shared.kafka import broker_reachable
from shared.runtime import Runtime
from shared.settings import ServiceSettings


def operations_router(
    settings: ServiceSettings, broker: KafkaBroker, description: str
) -> APIRouter:
    """Health, readiness (the database, the broker and the runtime's own checks) and the
    AsyncAPI document."""
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

    return router
