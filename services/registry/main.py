"""Wiring of the registry service; run with ``python -m services.registry.main``."""

import asyncio
import contextlib
from pathlib import Path

from fastapi import FastAPI

from services.registry import api, handlers, service
from services.registry.clients import ConsentClient
from services.registry.config import RegistrySettings
from shared.app import Runtime, create_app, create_broker, serve
from shared.logging import get_logger

log = get_logger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = (
    "Registry: users, profiles, the member-organisation read path and the data subject's rights."
)


def build_app(settings: RegistrySettings | None = None) -> FastAPI:
    """The registry service as an ASGI app; tests build it the same way."""
    settings = settings or RegistrySettings()
    broker = create_broker(settings)
    broker.include_router(handlers.build_router(group=settings.schema_name))

    async def open_consent_client(runtime: Runtime) -> None:
        client = ConsentClient(
            settings, base_url=settings.consent_url, timeout=settings.consent_timeout_seconds
        )
        await client.start()
        runtime.extras["consent"] = client

    async def close_consent_client(runtime: Runtime) -> None:
        if "consent" in runtime.extras:
            await runtime.extras["consent"].close()

    async def start_sweep(runtime: Runtime) -> None:
        if settings.outbox_retain_published:
            log.warning(
                "registry.outbox_retains_personal_data",
                detail="published outbox rows keep personal data; erasure will not reach them",
            )
        runtime.extras["sweep"] = asyncio.create_task(
            _sweep(runtime, settings.visibility_sweep_seconds), name="registry.visibility-sweep"
        )

    async def stop_sweep(runtime: Runtime) -> None:
        task = runtime.extras.get("sweep")
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return create_app(
        settings=settings,
        broker=broker,
        routers=[api.router, api.public],
        migrations=MIGRATIONS,
        description=DESCRIPTION,
        on_start=[open_consent_client, start_sweep],
        on_stop=[stop_sweep, close_consent_client],
    )


async def _sweep(runtime: Runtime, every: float) -> None:
    """Unpublish profiles whose visibility consent ran out, every ``every`` seconds."""
    while True:
        await asyncio.sleep(every)
        try:
            taken_down = await service.unpublish_lapsed(runtime.sessions)
        except Exception as exc:  # the next round retries; the failure is logged, not hidden
            log.warning("registry.visibility_sweep_failed", error=repr(exc))
            continue
        if taken_down:
            log.info("registry.profiles_unpublished", reason="consent_expired", count=taken_down)


def main() -> None:
    """Serve the registry service."""
    settings = RegistrySettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
