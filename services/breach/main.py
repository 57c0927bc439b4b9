"""Wiring of the breach service; run with ``python -m services.breach.main``."""

import functools
from pathlib import Path

from fastapi import FastAPI

from services.breach import api, handlers, topics
from services.breach.bootstrap import bootstrap
from services.breach.clients import AuditClient
from services.breach.config import BreachSettings
from services.breach.triage import api as triage
from shared.app import create_app, create_broker, serve
from shared.clock import Clock

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = "Breach: declared breaches, affected subjects, and the 72-hour notification clock."


def build_app(
    settings: BreachSettings | None = None,
    *,
    clock: Clock | None = None,
    audit: AuditClient | None = None,
) -> FastAPI:
    """The breach service as an ASGI app; tests build it the same way, with a clock or an
    audit client of their own."""
    settings = settings or BreachSettings()
    broker = create_broker(settings)
    broker.include_router(handlers.build_router(settings))
    return create_app(
        settings=settings,
        broker=broker,
        routers=[api.router, triage.router],
        migrations=MIGRATIONS,
        description=DESCRIPTION,
        topics=[*topics.CONSUMED, *topics.PUBLISHED],
        bootstrap=functools.partial(bootstrap, clock=clock, audit=audit),
    )


def main() -> None:
    """Serve the breach service."""
    settings = BreachSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
