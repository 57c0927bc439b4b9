"""A small service built from the shared parts, to test them end to end.

It has one route that stages a probe event through the outbox, and one subscriber
that applies probe events once (inbox) and records the trace id it ran under.
"""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Depends, FastAPI, Request
from faststream.kafka import KafkaBroker
from sqlalchemy import text

from shared.app import Infrastructure, Runtime, create_app, create_broker
from shared.auth import Principal, Role, require
from shared.db import Sessions, transaction
from shared.kafka import claim, consumer_options
from shared.outbox import stage
from shared.settings import ServiceSettings
from shared.telemetry import current_trace_id
from tests.support import DATABASE_URL, KAFKA, ProbeEvent, make_probe

MIGRATIONS = Path(__file__).parent / "migrations"


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"
    default_port: ClassVar[int] = 8099


def probe_settings(schema: str) -> ProbeSettings:
    return ProbeSettings(
        db_schema=schema,
        database_url=DATABASE_URL,
        kafka_bootstrap_servers=KAFKA,
        outbox_poll_seconds=0.2,
        log_json=True,
    )


AfterCommit = Callable[[ProbeEvent], Awaitable[None]]


def add_probe_subscriber(
    broker: KafkaBroker,
    event_cls: type[ProbeEvent],
    group: str,
    sessions: Callable[[], Sessions],
    after_commit: AfterCommit | None = None,
    on_delivery: AfterCommit | None = None,
) -> None:
    """Subscribe ``broker`` to ``event_cls``'s topic with the project's consumer rules."""
    topic = event_cls.topic()

    async def on_probe(event: ProbeEvent) -> None:
        if on_delivery is not None:
            await on_delivery(event)
        async with transaction(sessions()) as session:
            if not await claim(session, event, topic):
                return
            await session.execute(
                text("INSERT INTO probe_rows (event_id, n, trace_id) VALUES (:e, :n, :t)"),
                {"e": event.event_id, "n": event.payload.n, "t": current_trace_id()},
            )
        if after_commit is not None:
            await after_commit(event)

    # Validate against this test's own event class (and so its own event type).
    on_probe.__annotations__["event"] = event_cls
    broker.subscriber(topic, **consumer_options(group, topic))(on_probe)


def build_probe_app(schema: str, event_cls: type[ProbeEvent], group: str) -> FastAPI:
    """The probe service: POST /probe stages an event; the subscriber applies it."""
    settings = probe_settings(schema)
    broker = create_broker(settings)
    holder: dict[str, Any] = {}

    def sessions() -> Sessions:
        runtime: Runtime = holder["runtime"]
        return runtime.sessions

    add_probe_subscriber(broker, event_cls, group, sessions)
    router = APIRouter()

    @router.post("/probe", status_code=202)
    async def post_probe(
        request: Request,
        n: int,
        principal: Annotated[Principal, Depends(require(Role.PLATFORM, Role.ADMIN))],
    ) -> dict[str, str]:
        runtime: Runtime = request.app.state.runtime
        event = make_probe(event_cls, n)
        async with transaction(runtime.sessions) as session:
            stage(session, event)
        return {"event_id": str(event.event_id), "by": principal.sub}

    async def remember(infra: Infrastructure) -> Runtime:
        holder["runtime"] = runtime = Runtime(**vars(infra))
        return runtime

    return create_app(
        settings=settings,
        broker=broker,
        routers=[router],
        migrations=MIGRATIONS,
        description="Probe service for tests.",
        bootstrap=remember,
    )
