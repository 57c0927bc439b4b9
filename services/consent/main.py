"""Wiring of the consent service; run with ``python -m services.consent.main``."""

import functools
from pathlib import Path

from fastapi import FastAPI

from services.consent import api, handlers, topics
from services.consent.bootstrap import bootstrap
from services.consent.config import ConsentSettings
from shared.app import create_app, create_broker, serve
from shared.clock import Clock

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = "Consent: purposes, consents and their history, organisations, grants and decisions."


def build_app(settings: ConsentSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The consent service as an ASGI app; tests build it the same way (with a clock)."""
    settings = settings or ConsentSettings()
    broker = create_broker(settings)
    broker.include_router(handlers.build_router(settings))

    return create_app(
        settings=settings,
        broker=broker,
        routers=[api.router],
        migrations=MIGRATIONS,
        description=DESCRIPTION,
        untraced_paths=["decisions"],
        topics=[*topics.CONSUMED, *topics.PUBLISHED],
        bootstrap=functools.partial(bootstrap, clock=clock),
    )


def main() -> None:
    """Serve the consent service."""
    settings = ConsentSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
