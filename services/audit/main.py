"""Wiring of the audit service; run with ``python -m services.audit.main``."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.audit import api, handlers, service
from services.audit.config import AuditSettings
from shared.app import Runtime, create_app, create_broker, serve
from shared.db import connect_raw
from shared.logging import get_logger

log = get_logger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = "Audit: the append-only, verifiable log of every disclosure of personal data."


def build_app(settings: AuditSettings | None = None) -> FastAPI:
    """The audit service as an ASGI app; tests build it the same way."""
    settings = settings or AuditSettings()
    broker = create_broker(settings)
    broker.include_router(
        handlers.build_router(group=settings.schema_name, batch_size=settings.ingest_batch_size)
    )
    grace = timedelta(seconds=settings.check_grace_seconds)
    unknown_after = timedelta(seconds=settings.check_unknown_after_seconds)

    async def start(runtime: Runtime) -> None:
        audit_log = service.AuditLog()
        await service.load(runtime.sessions, audit_log)
        signer = service.Signer.from_seed(settings.signing_seed())
        reader = handlers.Reader(workers=settings.ingest_workers)
        await reader.start()
        runtime.extras.update(
            signer=signer,
            reader=reader,
            writer=handlers.Writer(
                lambda: connect_raw(settings.database_url, settings.schema_name), audit_log
            ),
        )
        runtime.readiness["log_writer"] = runtime.extras["writer"].problem
        runtime.extras["tasks"] = [
            asyncio.create_task(
                _every(
                    settings.tree_head_seconds,
                    "tree_head",
                    lambda: service.sign_tree_head(runtime.sessions, audit_log, signer),
                )
            ),
            asyncio.create_task(
                _every(
                    settings.check_seconds,
                    "consent_check",
                    lambda: service.check_settled(
                        runtime.sessions, grace=grace, unknown_after=unknown_after
                    ),
                )
            ),
        ]

    async def stop(runtime: Runtime) -> None:
        if "writer" in runtime.extras:
            await runtime.extras["writer"].close()
        if "reader" in runtime.extras:
            runtime.extras["reader"].close()
        for task in runtime.extras.get("tasks", []):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = create_app(
        settings=settings,
        broker=broker,
        routers=[api.router],
        migrations=MIGRATIONS,
        description=DESCRIPTION,
        on_start=[start],
        on_stop=[stop],
    )
    return app


async def _every(seconds: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job`` every ``seconds``; a failure is logged and the next round retries."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception as exc:
            log.warning("audit.job_failed", job=name, error=repr(exc))


def main() -> None:
    """Serve the audit service."""
    settings = AuditSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
