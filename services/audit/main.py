"""Wiring of the audit service; run with ``python -m services.audit.main``."""

from pathlib import Path

from fastapi import FastAPI

from services.audit import api, handlers, topics
from services.audit.bootstrap import bootstrap
from services.audit.config import AuditSettings
from shared.app import create_app, create_broker, serve

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = "Audit: the append-only, verifiable log of every disclosure of personal data."


def build_app(settings: AuditSettings | None = None) -> FastAPI:
    """The audit service as an ASGI app; tests build it the same way."""
    settings = settings or AuditSettings()
    broker = create_broker(settings)
    broker.include_router(handlers.build_router(settings))
    return create_app(
        settings=settings,
        broker=broker,
        routers=[api.router],
        migrations=MIGRATIONS,
        description=DESCRIPTION,
        topics=[*topics.CONSUMED, *topics.PUBLISHED],
        bootstrap=bootstrap,
    )


def main() -> None:
    """Serve the audit service."""
    settings = AuditSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
