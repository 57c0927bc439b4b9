"""Helpers of the notifier's tests: the local SMTP server in a process of its own, the
events a test publishes, and what the notifier recorded."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.notifier import SmtpServer as SmtpServer
from devtools.notifier import erased as erased
from devtools.notifier import publish as publish
from devtools.notifier import registered as registered
from devtools.notifier import request as request
from devtools.stack import free_port as free_port
from services.notifier.config import NotifierSettings
from shared import events
from shared.events import (
    OrganisationPayload,
    OrganisationRegistered,
    OrganisationRetired,
    OrganisationUpdated,
    RecipientAction,
    RecipientNotificationRequested,
    RecipientNotificationRequestedPayload,
)
from tests.support import KAFKA, wait_until


def settings(schema: str, smtp: SmtpServer, **extra: Any) -> NotifierSettings:
    values: dict[str, Any] = {
        "db_schema": schema,
        "topic_prefix": f"{schema}.",
        "smtp_port": smtp.port,
        "smtp_timeout_seconds": 5.0,
        "smtp_backoff_seconds": 0.05,
        "smtp_backoff_max_seconds": 0.5,
        "smtp_probe_seconds": 0.1,
        "smtp_probe_max_seconds": 0.5,
        "clock_poll_seconds": 0.05,
        "smtp_rate_per_second": 0,
        "no_contact_grace_seconds": 1.0,
        "batch_size": 100,
        "log_json": True,
        "log_level": "WARNING",
        **extra,
    }
    return NotifierSettings(**values)


def people(n: int, prefix: str = "u") -> list[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    return [(f"{prefix}-{tag}-{i}", f"{prefix}{i}.{tag}@example.org") for i in range(n)]


async def deliveries(engine: AsyncEngine, breach_id: str) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM deliveries WHERE breach_id = :b"), {"b": breach_id}
        )
        return {r.notice_id: dict(r._mapping) for r in rows}


async def settled(engine: AsyncEngine, breach_id: str, count: int, timeout: float = 60) -> None:
    async def done() -> bool:
        try:
            rows = await deliveries(engine, breach_id)
        except Exception:  # the schema is not migrated yet
            return False
        return sum(1 for r in rows.values() if r["state"] != "claimed") >= count

    await wait_until(done, timeout, f"{count} notices of {breach_id} to settle")


async def outcomes(
    prefix: str, count: int, timeout: float = 30, settle: float = 1.0
) -> list[dict[str, Any]]:
    """The outcome events the notifier published (both topics), once there are ``count``,
    and whatever else arrives within ``settle`` seconds."""
    topics = [f"{prefix}{t}" for t in (events.NOTIFICATION_DELIVERED, events.NOTIFICATION_FAILED)]
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=KAFKA,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while len(found) < count:
            if loop.time() > deadline:
                raise TimeoutError(f"{len(found)} of {count} outcome events")
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                found += [json.loads(r.value or b"") for r in batch]
        end = loop.time() + settle
        while loop.time() < end:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                found += [json.loads(r.value or b"") for r in batch]
        return found
    finally:
        await consumer.stop()


class FakeClock:
    """The notifier's clock in a test: still until the test moves it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def organisation(
    slug: str,
    contact: str | None,
    *,
    name: str = "Department of Trade and Industry",
    country: str | None = "PH",
    event: type[events.Envelope] = OrganisationRegistered,
    at: datetime | None = None,
) -> Any:
    assert event in (OrganisationRegistered, OrganisationUpdated, OrganisationRetired)
    retired = datetime.now(UTC) if event is OrganisationRetired else None
    return event.create(
        producer="consent",
        subject_id=slug,
        payload=OrganisationPayload(
            organisation=slug,
            name=name,
            country=country,
            kind="governmental",
            standing_access=False,
            privacy_contact=contact,
            retired_at=retired,
        ),
        occurred_at=at,
    )


def recipient_request(
    user_id: str,
    slug: str,
    action: RecipientAction = RecipientAction.ERASE,
    categories: tuple[str, ...] = ("full_name", "email_address"),
    request_id: str | None = None,
) -> Any:
    request_id = request_id or str(uuid.uuid4())
    return RecipientNotificationRequested.create(
        producer="audit",
        subject_id=user_id,
        payload=RecipientNotificationRequestedPayload(
            notice_id=f"recipient:{request_id}",
            request_id=request_id,
            organisation=slug,
            user_id=user_id,
            action=action,
            data_categories=list(categories),
            last_received_at=datetime(2026, 11, 18, 8, 30, tzinfo=UTC),
            requested_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
            respond_by=datetime(2026, 12, 20, 9, 0, tzinfo=UTC),
        ),
    )


async def deliveries_of_kind(engine: AsyncEngine, kind: str) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        try:
            rows = await conn.execute(text("SELECT * FROM deliveries WHERE kind = :k"), {"k": kind})
        except Exception:  # the schema is not migrated yet
            return {}
        return {r.notice_id: dict(r._mapping) for r in rows}


class RunningClock:
    """The notifier's clock in a test: the real time, plus however far the test moved it."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)
