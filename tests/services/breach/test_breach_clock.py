"""The 72-hour clock on the stored test clock: warnings and the missed deadline at the
right moments, exactly once each, across a restart of the service too."""

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.breach import countdown
from services.breach.clients import AuditClient
from services.breach.main import build_app
from shared import events
from shared.clock import StoredClock
from shared.db import create_sessions
from tests.services.breach.conftest import (
    AUDITOR as AUTH,
)
from tests.services.breach.conftest import (
    T0,
    Service,
    outcome,
    prefix_of,
    running,
    settings,
    user_ids,
)
from tests.support import read_topic, wait_until
from tests.support.apps import AppClient

pytestmark = pytest.mark.integration


async def fired(service: Service, breach_id: str) -> list[tuple[str, int | None, int]]:
    """(event type, point, pending) of every clock event staged for the breach."""
    out = []
    for topic in (events.BREACH_DEADLINE_WARNING, events.BREACH_DEADLINE_MISSED):
        for e in await service.staged(topic):
            p = e["payload"]
            if p["breach_id"] == breach_id:
                out.append((e["event_type"], p["point_hours"], p["pending_notifications"]))
    return out


async def until_fired(service: Service, breach_id: str, count: int) -> list[Any]:
    async def enough() -> bool:
        return len(await fired(service, breach_id)) >= count

    await wait_until(enough, 30, f"{count} clock events")
    await service.http.rounds("clock", 3)  # three more ticks: nothing fires twice
    return await fired(service, breach_id)


WARNING, MISSED = "breach.deadline_warning", "breach.deadline_missed"


async def test_warnings_and_the_missed_deadline_fire_once_each_as_the_clock_moves(
    service: Service,
) -> None:
    a, b, c = user_ids("told", 3)
    breach = await service.declare(scope=[{"kind": "users", "user_ids": [a, b, c]}])
    breach_id = breach["breach_id"]
    await service.resolved(breach_id)

    await service.clock.freeze(T0 + timedelta(hours=23, minutes=59))
    await service.http.rounds("clock", 3)  # ticks a minute early: nothing yet
    assert await fired(service, breach_id) == []

    await service.clock.freeze(T0 + timedelta(hours=24))
    assert await until_fired(service, breach_id, 1) == [(WARNING, 24, 3)]

    await service.publish(outcome(breach_id, a, at=T0 + timedelta(hours=25)))

    async def told() -> bool:
        return (await service.breach(breach_id))["counts"]["delivered"] == 1

    await wait_until(told, 30, "the delivery to count")
    await service.clock.freeze(T0 + timedelta(hours=48, seconds=1))
    assert (await until_fired(service, breach_id, 2))[1:] == [(WARNING, 48, 2)]
    await service.clock.freeze(T0 + timedelta(hours=66))
    assert (await until_fired(service, breach_id, 3))[2:] == [(WARNING, 66, 2)]
    await service.clock.freeze(T0 + timedelta(hours=71, minutes=59))
    await service.http.rounds("clock", 3)
    assert len(await fired(service, breach_id)) == 3
    await service.clock.freeze(T0 + timedelta(hours=72))
    assert await until_fired(service, breach_id, 4) == [
        (WARNING, 24, 3),
        (WARNING, 48, 2),
        (WARNING, 66, 2),
        (MISSED, None, 2),
    ]
    assert (await service.breach(breach_id))["seconds_left"] == 0
    actions = [
        e["action"]
        for e in (await service.http.get(f"/breaches/{breach_id}/timeline", headers=AUTH)).json()
    ]
    assert actions.count("deadline_warning") == 3 and actions.count("deadline_missed") == 1


async def test_the_clock_fires_what_passed_while_the_service_was_down_once(
    schema: str, engine: AsyncEngine
) -> None:
    clock = StoredClock(engine)
    people = user_ids("waiting", 2)
    async with running(schema) as http:
        await clock.freeze(T0)
        service = Service(http=http, schema=schema, engine=engine, clock=clock)
        breach_id = (await service.declare(scope=[{"kind": "users", "user_ids": people}]))[
            "breach_id"
        ]
        await service.resolved(breach_id)
        await clock.freeze(T0 + timedelta(hours=25))
        assert await until_fired(service, breach_id, 1) == [(WARNING, 24, 2)]

    await clock.advance(timedelta(hours=25))  # 50 h: the 48-hour point passes while down

    async with running(schema) as http:
        service = Service(http=http, schema=schema, engine=engine, clock=clock)
        assert (await service.breach(breach_id))["seconds_left"] == 22 * 3600
        assert await until_fired(service, breach_id, 2) == [(WARNING, 24, 2), (WARNING, 48, 2)]

    await clock.advance(timedelta(hours=30))  # 80 h: the 66-hour point and the deadline

    async with running(schema) as http:
        service = Service(http=http, schema=schema, engine=engine, clock=clock)
        assert await until_fired(service, breach_id, 4) == [
            (WARNING, 24, 2),
            (WARNING, 48, 2),
            (WARNING, 66, 2),
            (MISSED, None, 2),
        ]


async def test_nothing_fires_when_everyone_was_told_in_time(service: Service) -> None:
    (person,) = user_ids("quick", 1)
    breach_id = (await service.declare(scope=[{"kind": "users", "user_ids": [person]}]))[
        "breach_id"
    ]
    await service.resolved(breach_id)
    await service.publish(outcome(breach_id, person, at=T0 + timedelta(hours=1)))

    async def told() -> bool:
        return (await service.breach(breach_id))["counts"]["pending"] == 0

    await wait_until(told, 30, "the delivery to count")
    await service.clock.freeze(T0 + timedelta(hours=80))
    await service.http.rounds("clock", 3)

    assert await fired(service, breach_id) == []


async def test_two_replicas_ticking_at_once_fire_each_point_once(service: Service) -> None:
    breach_id = (await service.declare(scope=[{"kind": "users", "user_ids": ["u-1"]}]))["breach_id"]
    await service.resolved(breach_id)
    await service.clock.freeze(T0 + timedelta(hours=80))
    sessions = create_sessions(service.engine)

    await asyncio.gather(*(countdown.tick(sessions, service.clock, [24, 48, 66]) for _ in range(4)))

    assert sorted(await until_fired(service, breach_id, 4), key=str) == sorted(
        [(WARNING, 24, 1), (WARNING, 48, 1), (WARNING, 66, 1), (MISSED, None, 1)], key=str
    )


async def test_a_breach_declared_late_records_the_people_its_scope_finds_as_pending(
    schema: str, engine: AsyncEngine
) -> None:
    people = sorted(user_ids("late", 3))

    async def slow_audit(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.5)  # several clock ticks pass while the scope resolves
        query = request.url.params
        page = {
            "organisation": "ph-late",
            "since": query["since"],
            "until": query["until"],
            "categories": None,
            "subjects": people,
            "next_after": None,
        }  # the audit service's page, as its OpenAPI document describes it
        return httpx.Response(200, json=page)

    audit = AuditClient(
        settings(schema),
        base_url="http://audit",
        timeout=10,
        transport=httpx.MockTransport(slow_audit),
    )
    clock = StoredClock(engine)
    late = T0 - timedelta(hours=72, seconds=60)  # every point has passed on declaration
    async with running(schema, audit=audit) as http:
        await clock.freeze(T0)
        service = Service(http=http, schema=schema, engine=engine, clock=clock)
        breach_id = (
            await service.declare(
                started_at=(late - timedelta(days=1)).isoformat(),
                detected_at=(late - timedelta(hours=1)).isoformat(),
                aware_at=late.isoformat(),
                scope=[
                    {
                        "kind": "organisation",
                        "organisation": "ph-late",
                        "since": (late - timedelta(days=1)).isoformat(),
                        "until": late.isoformat(),
                    }
                ],
            )
        )["breach_id"]

        assert await until_fired(service, breach_id, 4) == [
            (WARNING, 24, 3),
            (WARNING, 48, 3),
            (WARNING, 66, 3),
            (MISSED, None, 3),
        ]
        timeline = (await service.http.get(f"/breaches/{breach_id}/timeline", headers=AUTH)).json()
        missed = [e["detail"] for e in timeline if e["action"] == "deadline_missed"]
        assert missed == [{"point_hours": 72, "pending": 3}]
        assert (await service.breach(breach_id))["counts"]["pending"] == 3

    def payload(value: bytes | None) -> dict[str, Any]:
        assert value is not None
        body: dict[str, Any] = json.loads(value)["payload"]
        return body

    records = await read_topic(
        prefix_of(schema) + events.BREACH_DEADLINE_MISSED,
        until=lambda rs: any(payload(r.value)["breach_id"] == breach_id for r in rs),
    )
    on_kafka = [p for r in records if (p := payload(r.value))["breach_id"] == breach_id]
    assert [(p["affected"], p["pending_notifications"]) for p in on_kafka] == [(3, 3)]


class BrokenClock:
    """A clock that cannot tell the time: every tick of the 72-hour clock fails."""

    async def now(self) -> datetime:
        raise ConnectionError("the clock's table is unreachable")


async def test_a_clock_that_keeps_failing_makes_the_service_not_ready_naming_it(
    schema: str,
) -> None:
    app = build_app(settings(schema), clock=BrokenClock())
    async with app.router.lifespan_context(app), AppClient(app, "http://breach") as http:
        job = http.job("clock")

        async def failing() -> bool:
            return job.failures >= 3

        await wait_until(failing, 30, "three failed rounds of the clock")
        answer = await http.get("/readyz")
        assert answer.status_code == 503
        checks = answer.json()["checks"]
        assert checks["job:clock"].startswith("failing: ConnectionError(")
        assert checks["database"] == checks["kafka"] == checks["job:resolve"] == "ok"
