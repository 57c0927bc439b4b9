"""Helpers of the notifier's tests: the local SMTP server in a process of its own, the
events a test publishes, and what the notifier recorded."""

import asyncio
import email
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.config import NotifierSettings
from shared import events
from shared.events import (
    BreachNotificationRequested,
    NotificationRequestedPayload,
    OrganisationPayload,
    OrganisationRegistered,
    OrganisationRetired,
    OrganisationUpdated,
    RecipientAction,
    RecipientNotificationRequested,
    RecipientNotificationRequestedPayload,
    UserErased,
    UserErasedPayload,
    UserRegistered,
    UserRegisteredPayload,
)
from tests.support import KAFKA, ROOT, wait_until

SERVER = ROOT / "deploy" / "local" / "smtp_server.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpServer:
    """deploy/local/smtp_server.py in a subprocess that a test can kill and start again."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(SERVER), "--port", str(self.port), "--dir", str(self.directory)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def start(self) -> None:
        self.process = self._spawn()
        stats = self.directory / "stats.json"
        stats.unlink(missing_ok=True)

        def listening() -> bool:
            try:
                return bool(json.loads(stats.read_text()).get("listening"))
            except (OSError, ValueError):
                return False

        await wait_until(listening, 20, "the SMTP server to listen")

    async def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            await asyncio.to_thread(self.process.wait, 10)
        self.process = None

    def rules(self, *rules: dict[str, Any]) -> None:
        """Answer failures on demand (see smtp_server.py's control.json)."""
        tmp = self.directory / "control.tmp"
        tmp.write_text(json.dumps({"rules": list(rules)}))
        os.replace(tmp, self.directory / "control.json")

    def messages(self) -> list[Message]:
        new = self.directory / "new"
        if not new.exists():
            return []
        return [email.message_from_bytes(p.read_bytes()) for p in sorted(new.iterdir())]

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages() if m["X-Envelope-To"] == address]

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = json.loads((self.directory / "stats.json").read_text())
        return stats


def settings(schema: str, smtp: SmtpServer, **extra: Any) -> NotifierSettings:
    values: dict[str, Any] = {
        "db_schema": schema,
        "topic_prefix": f"{schema}.",
        "smtp_port": smtp.port,
        "smtp_timeout_seconds": 5.0,
        "smtp_backoff_seconds": 0.05,
        "smtp_backoff_max_seconds": 0.5,
        "smtp_rate_per_second": 0,
        "no_contact_grace_seconds": 1.0,
        "batch_size": 100,
        "log_json": True,
        "log_level": "WARNING",
        **extra,
    }
    return NotifierSettings(**values)


async def publish(prefix: str, *evs: events.Envelope) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for event in evs:
            await producer.send(f"{prefix}{event.topic()}", event.to_bytes(), key=event.key())
        await producer.flush()
    finally:
        await producer.stop()


def registered(user_id: str, address: str, language: str = "en", name: str = "Ana Cruz") -> Any:
    return UserRegistered.create(
        producer="registry",
        subject_id=user_id,
        payload=UserRegisteredPayload(
            user_id=user_id, full_name=name, email=address, country="PH", language=language
        ),
    )


def erased(user_id: str) -> Any:
    return UserErased.create(
        producer="registry",
        subject_id=user_id,
        payload=UserErasedPayload(
            user_id=user_id, erased_at=datetime.now(UTC), requested_by="subject"
        ),
    )


def request(user_id: str, breach_id: str, reference: str = "BR-2026-0042") -> Any:
    aware = datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
    return BreachNotificationRequested.create(
        producer="breach",
        subject_id=user_id,
        payload=NotificationRequestedPayload(
            notice_id=f"breach:{breach_id}:{user_id}",
            breach_id=breach_id,
            user_id=user_id,
            reference=reference,
            title="Exposed member list",
            what_happened="A member list was readable from a public link.",
            started_at=datetime(2026, 11, 17, 8, 0, tzinfo=UTC),
            ended_at=datetime(2026, 11, 19, 9, 0, tzinfo=UTC),
            aware_at=aware,
            data_categories=["full_name", "email_address"],
            likely_consequences="Phishing email that uses your name.",
            measures_taken="The link was removed and access logs reviewed.",
            what_you_can_do="Ignore email that asks for your password.",
            contact_point="dpo@platform.example",
            deadline_at=datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
        ),
    )


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
