"""The mail server stopped and started by the test (issue 21): notices wait for it without
spending attempts, temporary failures are retried until the notice's horizon, a "slow
down" lowers the rate, failed notices can be sent again, and nobody gets two emails."""

import asyncio
import os
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.bootstrap import NotifierRuntime
from services.notifier.domain import message_id
from services.notifier.main import build_app
from shared import events
from tests.services.notifier.conftest import Running
from tests.services.notifier.support import (
    RunningClock,
    SmtpServer,
    deliveries,
    outcomes,
    people,
    publish,
    registered,
    request,
    settings,
    settled,
)
from tests.support import read_topic, wait_until

pytestmark = pytest.mark.integration

PEOPLE = int(os.environ.get("OUTAGE_TEST_PEOPLE", "3000"))
"""People of the mid-breach outage test (the issue's 3,000; fewer on a machine that
cannot send them within the test's time)."""
OUTAGE_SECONDS = float(os.environ.get("OUTAGE_TEST_SECONDS", "20"))
"""How long the test stops the mail server for, in real time; the service's clock is
moved by two minutes more meanwhile."""


@pytest.fixture
def clock() -> RunningClock:
    return RunningClock()


@pytest.fixture
async def running(
    request: pytest.FixtureRequest, schema: str, smtp: SmtpServer, clock: RunningClock
) -> AsyncIterator[Running]:
    """The notifier on the test's clock; ``indirect`` parametrisation overrides settings."""
    values = {"no_contact_grace_seconds": 60.0, **getattr(request, "param", {})}
    config = settings(schema, smtp, **values)
    app = build_app(config, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
            yield Running(config, client, app)


def runtime(service: Running) -> NotifierRuntime:
    found = service.app.state.runtime
    assert isinstance(found, NotifierRuntime)
    return found


def breach() -> str:
    return f"b-{uuid.uuid4().hex[:10]}"


async def states(engine: AsyncEngine, breach_id: str) -> Counter[str]:
    return Counter(r["state"] for r in (await deliveries(engine, breach_id)).values())


async def smtp_events(prefix: str, server: str, count: int) -> list[dict[str, Any]]:
    """The outage events the notifier published about ``server``, once there are ``count``."""
    found: list[dict[str, Any]] = []
    for topic in (events.SMTP_UNAVAILABLE, events.SMTP_RECOVERED):
        records = await read_topic(f"{prefix}{topic}", until=lambda rs: len(rs) >= 1)
        found += [
            events.EVENT_BY_TOPIC[topic].model_validate_json(r.value).model_dump() for r in records
        ]
    mine = [e for e in found if e["payload"]["server"] == server]
    assert len(mine) >= count
    return sorted(mine, key=lambda e: e["occurred_at"])


@pytest.mark.parametrize(
    "running", [{"smtp_sessions": 4, "smtp_rate_per_second": 0, "batch_size": 500}], indirect=True
)
@pytest.mark.fault
async def test_an_outage_mid_breach_ends_with_everyone_accepted_once_and_no_attempt_spent(
    running: Running, smtp: SmtpServer, engine: AsyncEngine, clock: RunningClock
) -> None:
    folks = people(PEOPLE)
    b = breach()
    await publish(running.prefix, *(registered(u, a) for u, a in folks))
    await publish(running.prefix, *(request(u, b) for u, _ in folks))

    async def some() -> bool:
        return (await states(engine, b))["accepted"] >= PEOPLE // 3

    await wait_until(some, 120, "a third of the notices to be accepted")
    await smtp.stop(signal.SIGTERM)  # as an operator stops it
    stopped_at = datetime.now(UTC)

    async def noticed() -> bool:
        answer = await running.http.get("/readyz")
        return answer.status_code == 503 and "unreachable since" in answer.json()["checks"]["smtp"]

    await wait_until(noticed, 30, "/readyz to say the mail server is unreachable")
    clock.advance(120)  # two minutes of the service's time go by: nobody's horizon is near
    await asyncio.sleep(OUTAGE_SECONDS)
    during = await deliveries(engine, b)
    waiting = [r for r in during.values() if r["state"] == "claimed"]
    assert waiting, "the outage came after everything was sent; nothing was proven"
    failed = Counter((r["reason"], r["detail"]) for r in during.values() if r["state"] == "failed")
    assert not failed
    # Only those being sent when the server stopped (lost mid-message: it may have taken
    # them) count as handed over; every other waiting notice never left.
    handed = [r for r in waiting if r["started_at"]]
    assert len(handed) <= running.settings.smtp_sessions * 4
    await smtp.start()
    restarted_at = datetime.now(UTC)

    await settled(engine, b, PEOPLE, timeout=180)
    rows = await deliveries(engine, b)
    assert set(Counter(r["state"] for r in rows.values())) == {"accepted"}
    copies = Counter(str(m["X-Envelope-To"]) for m in smtp.messages())
    assert set(copies) == {a for _, a in folks}
    # Only a notice lost mid-message when the server stopped may have reached it twice
    # (the server may have kept it before dying); it is accepted as uncertain.
    by_address = {a: f"breach:{b}:{u}" for u, a in folks}
    twice = {by_address[a] for a, n in copies.items() if n > 1}
    uncertain = {n for n, r in rows.items() if r["uncertain"]}
    assert twice <= uncertain <= {r["notice_id"] for r in handed}
    assert max(copies.values()) <= 2
    ready = await running.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["smtp"] == "ok"
    server = runtime(running).mail_server.server
    unavailable, recovered = (await smtp_events(running.prefix, server, 2))[-2:]
    assert unavailable["event_type"] == "notifier.smtp_unavailable"
    assert recovered["event_type"] == "notifier.smtp_recovered"
    assert recovered["payload"]["down_seconds"] >= OUTAGE_SECONDS
    last_accepted = max(r["accepted_at"] for r in rows.values()) - clock.offset
    print(  # the figures, for the report (pytest -s)
        f"\n{PEOPLE} people; {len(waiting)} waited ({len(handed)} lost mid-message, "
        f"{len(twice)} second copies) "
        f"through an outage of "
        f"{(restarted_at - stopped_at).total_seconds():.1f} s (clock moved 120 s more); "
        f"probes {recovered['payload']['probes']}; the last accepted "
        f"{(last_accepted - restarted_at).total_seconds():.1f} s after the restart"
    )


@pytest.mark.parametrize("running", [{"retry_margin_hours": 6}], indirect=True)
async def test_an_outage_past_the_horizon_fails_them_and_a_resend_reaches_them_once(
    running: Running, smtp: SmtpServer, engine: AsyncEngine, clock: RunningClock
) -> None:
    told, *folks = people(11)
    b = breach()
    await publish(running.prefix, *(registered(u, a) for u, a in (told, *folks)))
    await publish(running.prefix, request(told[0], b))
    await settled(engine, b, 1)
    await smtp.stop()
    deadline = clock() + timedelta(hours=72)
    await publish(running.prefix, *(request(u, b, deadline_at=deadline) for u, _ in folks))

    async def waiting() -> bool:
        return (await states(engine, b))["claimed"] == len(folks)

    await wait_until(waiting, 30, "the notices to wait for the server")
    clock.advance(65 * 3600)  # an hour before the horizon: still waiting
    await asyncio.sleep(1.0)
    assert (await states(engine, b))["claimed"] == len(folks)
    clock.advance(3600 + 1)  # past deadline - 6 hours
    await settled(engine, b, 1 + len(folks))
    rows = await deliveries(engine, b)
    failed = [r for r in rows.values() if r["state"] == "failed"]
    assert len(failed) == len(folks)
    assert {r["reason"] for r in failed} == {"retries_exhausted"}
    assert {r["attempts"] for r in failed} == {0}
    assert all("unreachable until the horizon" in (r["detail"] or "") for r in failed)

    # The security team asks again once the server is back: each failed one is sent as
    # the same notice (same Message-ID); the one told already gets nothing more.
    await smtp.start()
    again = [request(u, b, deadline_at=deadline, resend=1) for u, _ in (told, *folks)]
    await publish(running.prefix, *again, *again[:3])  # and a redelivered few
    await settled(engine, b, 1 + len(folks))

    async def all_accepted() -> bool:
        return (await states(engine, b))["accepted"] == 1 + len(folks)

    await wait_until(all_accepted, 30, "the re-sent notices to be accepted")
    await asyncio.sleep(1.0)
    rows = await deliveries(engine, b)
    for user, address in (told, *folks):
        [mail] = smtp.to(address)
        notice = f"breach:{b}:{user}"
        assert mail["Message-ID"] == message_id(notice, running.settings.id_domain)
        assert rows[notice]["resends"] == (0 if user == told[0] else 1)
    found = await outcomes(running.prefix, 1 + 2 * len(folks), settle=1.0)
    assert len(found) == 1 + 2 * len(folks)  # a failure and an acceptance each; one for told


@pytest.mark.parametrize("running", [{"smtp_sessions": 2}], indirect=True)
async def test_a_server_answering_451_to_everything_for_a_while_fails_nobody(
    running: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    folks = people(30)
    b = breach()
    smtp.rules({"match": ".", "code": 451, "text": "4.3.0 try again later", "times": 90})
    await publish(running.prefix, *(registered(u, a) for u, a in folks))
    await publish(running.prefix, *(request(u, b) for u, _ in folks))
    await settled(engine, b, len(folks), timeout=120)
    rows = await deliveries(engine, b)
    assert {r["state"] for r in rows.values()} == {"accepted"}
    assert sum(r["attempts"] for r in rows.values()) >= 90 + len(folks)
    for _, address in folks:
        assert len(smtp.to(address)) == 1, address


@pytest.mark.parametrize("running", [{"smtp_rate_per_second": 200}], indirect=True)
async def test_a_server_saying_slow_down_lowers_the_rate_instead_of_failing_anyone(
    running: Running, smtp: SmtpServer, engine: AsyncEngine
) -> None:
    folks = people(20)
    b = breach()
    smtp.rules(
        {"match": ".", "code": 421, "text": "4.7.0 too many messages, slow down", "times": 4}
    )
    await publish(running.prefix, *(registered(u, a) for u, a in folks))
    await publish(running.prefix, *(request(u, b) for u, _ in folks))
    await settled(engine, b, len(folks), timeout=60)
    rows = await deliveries(engine, b)
    assert {r["state"] for r in rows.values()} == {"accepted"}
    limit = runtime(running).sender.limit
    assert limit.lowered >= 1 and limit.rate < 200
    assert runtime(running).mail_server.outages == 0  # a 421 mid-session is no outage
    for _, address in folks:
        assert len(smtp.to(address)) == 1, address
