"""Wiring of the audit service; run with ``python -m services.audit.main``."""

import functools
from pathlib import Path

from fastapi import FastAPI

from services.audit import api, handlers, log_routes, topics
from services.audit.bootstrap import bootstrap
from services.audit.config import AuditSettings
from shared.app import create_app, create_broker, serve
from shared.clock import Clock

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = "Audit: the append-only, verifiable log of every disclosure of personal data."


def build_app(
    settings: AuditSettings | None = None, *, recipients_clock: Clock | None = None
) -> FastAPI:
    """The audit service as an ASGI app; tests build it the same way (with a clock for the
    recipient notices)."""
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
        bootstrap=functools.partial(bootstrap, recipients_clock=recipients_clock),
        untraced_paths=log_routes.UNTRACED,
    )


def main() -> None:
    """Serve the audit service."""
    settings = AuditSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
