"""Wiring of the registry service; run with ``python -m services.registry.main``."""

import functools
from pathlib import Path

from fastapi import FastAPI

from services.registry import api, handlers, topics
from services.registry.bootstrap import bootstrap
from services.registry.clients import ConsentClient
from services.registry.config import RegistrySettings
from shared.app import create_app, create_broker, serve
from shared.clock import Clock

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = (
    "Registry: users, profiles, the member-organisation read path and the data subject's rights."
)


def build_app(
    settings: RegistrySettings | None = None,
    *,
    clock: Clock | None = None,
    consent: ConsentClient | None = None,
) -> FastAPI:
    """The registry service as an ASGI app; tests build it the same way, with a clock or a
    consent client of their own."""
    settings = settings or RegistrySettings()
    broker = create_broker(settings)
    broker.include_router(handlers.build_router(settings))
    return create_app(
        settings=settings,
        broker=broker,
        routers=[api.router, api.public],
        migrations=MIGRATIONS,
        description=DESCRIPTION,
        topics=[*topics.CONSUMED, *topics.PUBLISHED],
        bootstrap=functools.partial(bootstrap, clock=clock, consent=consent),
        untraced_paths=api.UNTRACED,
    )


def main() -> None:
    """Serve the registry service."""
    settings = RegistrySettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
