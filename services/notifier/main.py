"""Wiring of the notifier service; run with ``python -m services.notifier.main``."""

import functools
from pathlib import Path

from fastapi import FastAPI

from services.notifier import api, handlers, topics
from services.notifier.bootstrap import bootstrap, utc_now
from services.notifier.config import NotifierSettings
from services.notifier.sender import Sender
from services.notifier.service.sending import Clock
from shared.app import create_app, create_broker, serve

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = "Notifier: the contact directory and evidence of every notice delivered."


def build_app(
    settings: NotifierSettings | None = None,
    *,
    clock: Clock | None = None,
    sender: Sender | None = None,
) -> FastAPI:
    """The notifier service as an ASGI app; tests build it the same way (with a clock or
    an SMTP sender of their own)."""
    settings = settings or NotifierSettings()
    broker = create_broker(settings)
    broker.include_router(handlers.build_router(settings))
    return create_app(
        settings=settings,
        broker=broker,
        routers=[api.router],
        migrations=MIGRATIONS,
        description=DESCRIPTION,
        topics=[*topics.CONSUMED, *topics.PUBLISHED],
        bootstrap=functools.partial(bootstrap, clock=clock or utc_now, sender=sender),
    )


def main() -> None:
    """Serve the notifier service."""
    settings = NotifierSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
