"""Wiring of the consent service; run with ``python -m services.consent.main``."""

from pathlib import Path

from fastapi import FastAPI

from services.consent import api, handlers, service
from services.consent.config import ConsentSettings
from shared.app import Runtime, create_app, create_broker, serve

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = "Consent: purposes, consents and their history, organisations, grants and decisions."


def build_app(settings: ConsentSettings | None = None) -> FastAPI:
    """The consent service as an ASGI app; tests build it the same way."""
    settings = settings or ConsentSettings()
    broker = create_broker(settings)
    broker.include_router(handlers.build_router(group=settings.schema_name))

    async def load_projection(runtime: Runtime) -> None:
        runtime.extras["projection"] = await service.load_projection(runtime.sessions)

    return create_app(
        settings=settings,
        broker=broker,
        routers=[api.router],
        migrations=MIGRATIONS,
        description=DESCRIPTION,
        untraced_paths=["decisions"],
        on_start=[load_projection],
    )


def main() -> None:
    """Serve the consent service."""
    settings = ConsentSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
