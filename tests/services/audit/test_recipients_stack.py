"""The audit service running on the real broker and database with its recipient notices
on the stored clock, and what the recipient tests need around it.

Each test gets a schema (and so consumer groups) of its own, people and organisations
no other test uses, and a clock frozen years ahead of the real one, which it moves by
writing the schema's ``clock`` table.
"""

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit.config import AuditSettings
from services.audit.main import build_app
from shared import events
from shared.auth import Role, mint_token
from shared.clock import StoredClock
from shared.producers import create_producer
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.support import KAFKA, unique, wait_until
from tests.support.apps import AppClient

T0 = datetime(2031, 6, 2, 9, 0, tzinfo=UTC)
SETTLE = timedelta(seconds=30)
RECHECK = timedelta(hours=1)
RESPOND = timedelta(days=30)


def auth(role: Role, **claims: str) -> dict[str, str]:
    """Headers with a bearer token for ``role``."""
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


AUDITOR = auth(Role.AUDITOR)


def org(slug: str) -> dict[str, str]:
    """Headers of a member organisation's token."""
    return auth(Role.MEMBER_ORG, org_id=slug, sub=f"dpo@{slug}")


def settings(schema: str) -> AuditSettings:
    return AuditSettings(
        db_schema=schema,
        tree_head_seconds=0.5,
        check_seconds=0.5,
        recipients_clock="stored",
        recipients_settle_seconds=SETTLE.total_seconds(),
        recipients_recheck_seconds=RECHECK.total_seconds(),
        recipients_tick_seconds=0.2,
        log_json=True,
        topic_prefix=prefix_of(schema),
    )


def prefix_of(schema: str) -> str:
    """The topic prefix of the audit service on ``schema``: its topics are its own."""
    return f"{schema}."


@asynccontextmanager
async def running(schema: str) -> AsyncIterator[AppClient]:
    """The audit service started on ``schema``; stopped when the block ends."""
    app = build_app(settings(schema))
    async with app.router.lifespan_context(app), AppClient(app, "http://audit") as http:
        yield http


async def publish(prefix: str, *evs: events.Envelope) -> None:
    """Publish events to their topics (named with ``prefix``), as their producers would."""
    producer = create_producer(KAFKA, linger_ms=5)
    await producer.start()
    try:
        for e in evs:
            await producer.send(
                f"{prefix}{e.topic()}", value=e.to_bytes(), key=e.subject_id.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()


def disclosure(
    subject: str,
    organisation: str,
    fields: list[str],
    *,
    at: datetime,
    allowed: bool = True,
    grant_id: str | None = None,
) -> events.DataAccessed:
    """One disclosure of ``subject``'s ``fields`` to ``organisation`` (or a refused one)."""
    return events.DataAccessed.create(
        producer="registry",
        subject_id=subject,
        payload=events.DataAccessedPayload(
            organisation_id=organisation,
            organisation_country="PH",
            actor=f"analyst@{organisation}",
            subject_id=subject,
            subject_country="PH",
            fields=fields,
            purpose="member_organisation_sharing",
            legal_basis=events.LegalBasis.CONTRACT if grant_id else events.LegalBasis.CONSENT,
            channel="registry_api",
            accessed_at=at,
            decision=events.Decision.ALLOW if allowed else events.Decision.DENY,
            decision_reason=None if allowed else "no_consent",
            consent_id=None if grant_id else "c-1",
            consent_version=None if grant_id else 1,
            grant_id=grant_id,
        ),
    )


def erased(subject: str, *, event_id: uuid.UUID | None = None) -> events.UserErased:
    payload = events.UserErasedPayload(
        user_id=subject, erased_at=datetime.now(UTC), requested_by="subject"
    )
    return events.UserErased.create(
        producer="registry", subject_id=subject, payload=payload, event_id=event_id
    )


def updated(subject: str, changed: list[str]) -> events.UserUpdated:
    payload = events.UserUpdatedPayload(user_id=subject, changed_fields=changed)
    return events.UserUpdated.create(producer="registry", subject_id=subject, payload=payload)


def restriction(subject: str, *, restricted: bool, objected: bool) -> events.UserRestrictionChanged:
    payload = events.UserRestrictionChangedPayload(
        user_id=subject, restricted=restricted, objected=objected
    )
    return events.UserRestrictionChanged.create(
        producer="registry", subject_id=subject, payload=payload
    )


def outcome(
    request_id: str, organisation: str, *, at: datetime, failed: bool = False
) -> events.NotificationDelivered | events.NotificationFailed:
    """The notifier's answer to one recipient notice."""
    payload = events.NotificationOutcomePayload(
        notice_id=f"recipient:{request_id}",
        kind=events.RECIPIENT_NOTICE_KIND,
        organisation=organisation,
        at=at,
        attempts=1,
        smtp_code=550 if failed else 250,
        reason="no_contact" if failed else None,
    )
    cls = events.NotificationFailed if failed else events.NotificationDelivered
    return cls.create(producer="notifier", subject_id=organisation, payload=payload)


def names(prefix: str, n: int) -> list[str]:
    """``n`` names no other test uses."""
    base = unique(prefix)
    return [f"{base}-{i}" for i in range(n)]


@dataclass
class Audit:
    """A running audit service and what a test needs around it."""

    http: AppClient
    engine: AsyncEngine
    clock: StoredClock
    prefix: str
    """Before every topic of the service's."""

    async def publish(self, *evs: events.Envelope) -> None:
        """Publish events to the service's topics, as their producers would."""
        await publish(self.prefix, *evs)

    async def count(self, sql: str, **params: Any) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text(sql), params)).scalar_one())

    async def stored(self, *evs: events.DataAccessed) -> None:
        """Wait until every one of ``evs`` is in the log."""
        ids = [str(e.event_id) for e in evs]

        async def done() -> bool:
            sql = "SELECT count(*) FROM entries WHERE event_id = ANY(CAST(:i AS uuid[]))"
            return await self.count(sql, i=ids) == len(ids)

        await wait_until(done, 60, "the disclosures to be in the log")

    async def recorded(self, *evs: events.Envelope) -> None:
        """Wait until every one of the person's events ``evs`` is recorded as a trigger."""
        ids = [str(e.event_id) for e in evs]

        async def done() -> bool:
            sql = "SELECT count(*) FROM recipient_triggers WHERE event_id = ANY(CAST(:i AS uuid[]))"
            return await self.count(sql, i=ids) == len(ids)

        await wait_until(done, 60, "the events to be recorded")

    async def swept(self, *evs: events.Envelope, pass_: str = "first") -> None:
        """Wait until the ``pass_`` look-up of each of ``evs`` was made."""
        ids = [str(e.event_id) for e in evs]

        async def done() -> bool:
            sql = (
                "SELECT count(*) FROM recipient_sweeps WHERE pass = :p "
                "AND event_id = ANY(CAST(:i AS uuid[]))"
            )
            return await self.count(sql, i=ids, p=pass_) == len(ids)

        await wait_until(done, 30, f"the {pass_} look-up")

    async def staged(self, topic: str, subject: str) -> list[dict[str, Any]]:
        """Every event this service staged on ``topic`` about ``subject``, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT value FROM outbox WHERE topic = :t AND key = :k ORDER BY id"),
                {"t": f"{self.prefix}{topic}", "k": subject},
            )
            return [json.loads(v) for (v,) in rows]

    async def requests(self, subject: str) -> dict[str, dict[str, Any]]:
        """The notices staged about ``subject``, by organisation (each must be alone)."""
        staged = await self.staged(events.RECIPIENT_NOTIFICATION_REQUESTED, subject)
        out = {e["payload"]["organisation"]: e["payload"] for e in staged}
        assert len(out) == len(staged), "two requests to one organisation"
        return out

    async def request(self, request_id: str, headers: dict[str, str] = AUDITOR) -> Any:
        response = await self.http.get(f"/recipient-requests/{request_id}", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()
