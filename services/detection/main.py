"""Wiring of the detection service; run with ``python -m services.detection.main``."""

import functools
from pathlib import Path

from fastapi import FastAPI

from services.detection import api, handlers, topics
from services.detection.bootstrap import bootstrap
from services.detection.config import DetectionSettings
from shared.app import create_app, create_broker, serve
from shared.clock import Clock

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = (
    "Detection: the disclosure stream watched for the shape of a breach; alerts merged "
    "into incidents, triaged in the breach service."
)


def build_app(settings: DetectionSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The detection service as an ASGI app; tests build it the same way, with a clock of
    their own."""
    settings = settings or DetectionSettings()
    broker = create_broker(settings)
    broker.include_router(handlers.build_router(settings))
    return create_app(
        settings=settings,
        broker=broker,
        routers=[api.router],
        migrations=MIGRATIONS,
        description=DESCRIPTION,
        topics=[*topics.CONSUMED, *topics.PUBLISHED],
        bootstrap=functools.partial(bootstrap, clock=clock),
    )


def main() -> None:
    """Serve the detection service."""
    settings = DetectionSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
