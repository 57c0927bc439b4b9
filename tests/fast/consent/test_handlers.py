"""The consent service's subscribers on FastStream's test broker: an event on its topic
reaches its use case with the runtime's parts, a malformed one is dead-lettered."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from services.consent import handlers, service
from services.consent.bootstrap import ConsentRuntime
from services.consent.config import ConsentSettings
from services.consent.projection import Projection
from shared import events
from shared.app import create_broker
from shared.clock import ManualClock
from tests.fast.fakes import NOWHERE_DATABASE, NOWHERE_KAFKA, infrastructure

T0 = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture
async def runtime() -> AsyncIterator[ConsentRuntime]:
    settings = ConsentSettings(
        db_schema="fast_consent",
        database_url=NOWHERE_DATABASE,
        kafka_bootstrap_servers=NOWHERE_KAFKA,
    )
    infra = infrastructure(settings)
    runtime = ConsentRuntime(
        **{**vars(infra), "broker": create_broker(settings)},
        projection=Projection(origin="fast"),
        clock=ManualClock(T0),
    )
    runtime.broker.include_router(handlers.build_router(settings))
    runtime.broker.context.set_global("runtime", runtime)
    yield runtime
    await infra.engine.dispose()


def erased(user_id: str) -> events.UserErased:
    return events.UserErased.create(
        producer="registry",
        subject_id=user_id,
        payload=events.UserErasedPayload(user_id=user_id, erased_at=T0, requested_by="subject"),
    )


async def test_an_erasure_reaches_the_use_case_with_the_runtimes_clock_and_projection(
    runtime: ConsentRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []

    async def handle_user_erased(*args: Any) -> None:
        calls.append(args)

    monkeypatch.setattr(service, "handle_user_erased", handle_user_erased)
    event = erased("u-1")
    async with TestKafkaBroker(runtime.broker) as broker:
        await broker.publish(event.to_bytes(), topic=events.USER_ERASED, key=b"u-1")

    ((sessions, projection, clock, got, topic),) = calls
    assert (sessions, projection, clock) == (runtime.sessions, runtime.projection, runtime.clock)
    assert got == event and topic == events.USER_ERASED


async def test_a_malformed_erasure_never_reaches_the_use_case(
    runtime: ConsentRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []

    async def handle_user_erased(*args: Any) -> None:
        calls.append(args)

    monkeypatch.setattr(service, "handle_user_erased", handle_user_erased)
    dead: list[Any] = []

    @runtime.broker.subscriber(events.dlq_topic(events.USER_ERASED))
    async def on_dead(body: Any) -> None:
        dead.append(body)

    async with TestKafkaBroker(runtime.broker) as broker:
        await broker.publish(b'{"event_type": "user.erased"}', topic=events.USER_ERASED)

    assert calls == []
    assert dead == [{"event_type": "user.erased"}]
