"""Wiring of the registry service; run with ``python -m services.registry.main``."""

from pathlib import Path

import httpx
from fastapi import FastAPI

from services.registry import api, handlers
from services.registry.clients import ConsentClient
from services.registry.config import RegistrySettings
from shared.app import Runtime, create_app, create_broker, serve

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = (
    "Registry: users, profiles, the member-organisation read path and the data subject's rights."
)


def build_app(
    settings: RegistrySettings | None = None,
    *,
    consent_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The registry service as an ASGI app; tests build it the same way.

    ``consent_transport`` lets tests reach an in-process consent service.
    """
    settings = settings or RegistrySettings()
    broker = create_broker(settings)
    broker.include_router(handlers.build_router(group=settings.schema_name))

    async def open_consent_client(runtime: Runtime) -> None:
        runtime.extras["consent"] = ConsentClient(
            settings,
            base_url=settings.consent_url,
            timeout=settings.consent_timeout_seconds,
            transport=consent_transport,
        )

    async def close_consent_client(runtime: Runtime) -> None:
        if "consent" in runtime.extras:
            await runtime.extras["consent"].close()

    return create_app(
        settings=settings,
        broker=broker,
        routers=[api.router, api.public],
        migrations=MIGRATIONS,
        description=DESCRIPTION,
        on_start=[open_consent_client],
        on_stop=[close_consent_client],
    )


def main() -> None:
    """Serve the registry service."""
    settings = RegistrySettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
