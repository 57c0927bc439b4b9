"""The breach service as a real app on the real broker and database, on a stored clock.

Each test gets a schema of its own; the service's clock is frozen years ahead of the
real one (outcomes the tests publish then postdate any a notifier running elsewhere
might report for the same topics), and tests move it by writing the clock table.
"""

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.breach.clients import AuditClient
from services.breach.config import BreachSettings
from services.breach.main import build_app
from shared import events
from shared.auth import Role, mint_token
from shared.clock import StoredClock
from shared.db import create_engine
from shared.producers import create_producer
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.support import DATABASE_URL, KAFKA, unique, wait_until
from tests.support.apps import AppClient


def auth(role: Role, **claims: str) -> dict[str, str]:
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


SECURITY = auth(Role.SECURITY, sub="sec-lead@platform")
AUDITOR = auth(Role.AUDITOR)
T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
"""Where each test's clock starts: years ahead of the real time, and the same instant
however often this module is imported."""


def declaration(**overrides: Any) -> dict[str, Any]:
    """A complete declaration; ``overrides`` replace fields."""
    body: dict[str, Any] = {
        "title": "Exported contact list left on a public bucket",
        "what_happened": "A CSV export of member contacts was readable by anyone with the link.",
        "kinds": ["confidentiality"],
        "started_at": (T0 - timedelta(days=3)).isoformat(),
        "ended_at": (T0 - timedelta(hours=2)).isoformat(),
        "detected_at": (T0 - timedelta(hours=1)).isoformat(),
        "data_categories": ["email_address", "full_name"],
        "likely_consequences": "Phishing emails that quote your name.",
        "measures_taken": "The bucket was closed and the link revoked; access logs reviewed.",
        "what_you_can_do": "Be wary of emails asking for your password; we never ask.",
        "contact_point": "Data Protection Officer, dpo@example.org, +63 2 8000 0000",
        "scope": [],
    }
    body.update(overrides)
    return body


def prefix_of(schema: str) -> str:
    """The topic prefix of the breach service on ``schema``: its topics are its own."""
    return f"{schema}."


def settings(schema: str, **overrides: Any) -> BreachSettings:
    values: dict[str, Any] = {
        "db_schema": schema,
        "topic_prefix": prefix_of(schema),
        "clock": "stored",
        "clock_tick_seconds": 0.2,
        "resolve_seconds": 0.2,
        "log_json": True,
    }
    values.update(overrides)
    return BreachSettings(**values)


@asynccontextmanager
async def running(
    schema: str, *, audit: AuditClient | None = None, **overrides: Any
) -> AsyncIterator[AppClient]:
    """The breach service started on ``schema`` (asking ``audit`` when given); stopped when
    the block ends."""
    app = build_app(settings(schema, **overrides), audit=audit)
    async with app.router.lifespan_context(app), AppClient(app, "http://breach") as http:
        yield http


@dataclass
class Service:
    """A running breach service and what a test needs around it."""

    http: AppClient
    schema: str
    engine: AsyncEngine
    clock: StoredClock

    async def declare(self, **overrides: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/breaches", json=declaration(**overrides), headers=SECURITY
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def breach(self, breach_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/breaches/{breach_id}", headers=AUDITOR)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def resolved(self, breach_id: str, timeout: float = 30) -> dict[str, Any]:
        """The breach once all its scopes are resolved."""

        async def done() -> bool:
            return (await self.breach(breach_id))["scopes_resolving"] == 0

        await wait_until(done, timeout, "the scopes to be resolved")
        return await self.breach(breach_id)

    async def publish(self, *evs: events.Envelope) -> None:
        """Publish events to this service's topics, as their producers would."""
        await publish(*evs, prefix=prefix_of(self.schema))

    async def staged(self, topic: str) -> list[dict[str, Any]]:
        """Every event this service staged on ``topic``, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT value FROM outbox WHERE topic = :t ORDER BY id"),
                {"t": prefix_of(self.schema) + topic},
            )
            return [json.loads(v) for (v,) in rows]

    async def people(self, breach_id: str) -> dict[str, dict[str, Any]]:
        """Every person of the breach, by user id."""
        out: dict[str, dict[str, Any]] = {}
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if after:
                params["after"] = after
            response = await self.http.get(
                f"/breaches/{breach_id}/people", params=params, headers=AUDITOR
            )
            assert response.status_code == 200, response.text
            page = response.json()
            out.update({p["user_id"]: p for p in page["people"]})
            if page["next_after"] is None:
                return out
            after = page["next_after"]


@pytest.fixture
def schema(schema_factory: Callable[[str], str]) -> str:
    return schema_factory("breach")


@pytest.fixture
async def engine(schema: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DATABASE_URL, schema, pool_size=2, topic_prefix=prefix_of(schema))
    yield engine
    await engine.dispose()


@pytest.fixture
async def service(schema: str, engine: AsyncEngine) -> AsyncIterator[Service]:
    async with running(schema) as http:
        clock = StoredClock(engine)
        await clock.freeze(T0)
        yield Service(http=http, schema=schema, engine=engine, clock=clock)


async def publish(*evs: events.Envelope, prefix: str) -> None:
    """Publish events to their topics (named with ``prefix``) as their producers would."""
    producer = create_producer(KAFKA, linger_ms=5)
    await producer.start()
    try:
        for e in evs:
            topic = f"{prefix}{e.topic()}"
            await producer.send(topic, value=e.to_bytes(), key=e.subject_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


def user_ids(prefix: str, n: int) -> list[str]:
    """``n`` user ids no other test uses."""
    base = unique(prefix)
    return [f"{base}-{i:04d}" for i in range(n)]


def outcome(
    breach_id: str,
    user_id: str,
    *,
    at: datetime,
    failed: bool = False,
    uncertain: bool = False,
    reason: str | None = None,
    attempts: int = 1,
) -> events.NotificationDelivered | events.NotificationFailed:
    """The notifier's answer to one notice, as it would publish it."""
    notice = f"breach:{breach_id}:{user_id}"
    payload = events.NotificationOutcomePayload(
        notice_id=notice,
        kind="breach_notice",
        breach_id=breach_id,
        user_id=user_id,
        at=at,
        message_id=f"<{breach_id}.{user_id}@notifier.example>",
        attempts=attempts,
        uncertain=uncertain,
        smtp_code=550 if failed else 250,
        smtp_reply="5.1.1 no such mailbox" if failed else "2.0.0 Ok: queued as ABC123",
        queue_id=None if failed else "ABC123",
        reason=reason or ("rejected" if failed else None),
    )
    cls = events.NotificationFailed if failed else events.NotificationDelivered
    return cls.create(producer="notifier", subject_id=user_id, payload=payload)
