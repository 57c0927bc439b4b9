"""The detection service as a real app on the real broker and database.

Each test gets a schema of its own and the topics named after it; disclosures are
published with times of the test's choosing (a history of days is generated, never
waited for), and detection's stored clock says when it saw what it raised.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.detection.config import DetectionSettings
from services.detection.main import build_app
from shared import events
from shared.auth import Role, mint_token
from shared.events import DataAccessed, DataAccessedPayload, Decision, LegalBasis
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.services.breach.conftest import publish
from tests.support import wait_until
from tests.support.apps import AppClient


def auth(role: Role, **claims: str) -> dict[str, str]:
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


SECURITY = auth(Role.SECURITY, sub="sec-lead@platform")
AUDITOR = auth(Role.AUDITOR)


def prefix_of(schema: str) -> str:
    return f"{schema}."


def settings(schema: str, prefix: str | None = None, **overrides: Any) -> DetectionSettings:
    values: dict[str, Any] = {
        "db_schema": schema,
        "topic_prefix": prefix if prefix is not None else prefix_of(schema),
        "clock": "stored",
        "log_json": True,
        "db_pool_size": 3,
    }
    values.update(overrides)
    return DetectionSettings(**values)


@asynccontextmanager
async def running(schema: str, **overrides: Any) -> AsyncIterator[AppClient]:
    """Detection started on ``schema``; stopped when the block ends."""
    app = build_app(settings(schema, **overrides))
    async with app.router.lifespan_context(app), AppClient(app, "http://detection") as http:
        yield http


def read(
    org: str,
    subject: str,
    at: datetime,
    *,
    fields: tuple[str, ...] = ("email_address", "full_name"),
    producer: str = "registry",
    channel: str = "registry_api",
    purpose: str = "member_organisation_sharing",
    decision: Decision = Decision.ALLOW,
    grant_id: str | None = None,
) -> DataAccessed:
    """One disclosure to ``org`` at ``at``."""
    return DataAccessed.create(
        producer=producer,
        subject_id=subject,
        payload=DataAccessedPayload(
            organisation_id=org,
            organisation_country="PH",
            actor=f"analyst@{org}",
            subject_id=subject,
            subject_country="PH",
            fields=list(fields),
            purpose=purpose,
            legal_basis=LegalBasis.CONSENT,
            channel=channel,
            accessed_at=at,
            decision=decision,
            consent_id="c-1",
            consent_version=1,
            grant_id=grant_id,
        ),
    )


def history(org: str, end: datetime, *, days: int = 14, per_day: int = 30) -> list[DataAccessed]:
    """Tens of reads a day over ``days`` days before ``end``, a read every 17 minutes in
    the hours around ``end``'s time of day (so its hour has a baseline)."""
    out = []
    for day in range(days, 0, -1):
        start = end - timedelta(days=day, hours=4)
        for i in range(per_day):
            at = start + timedelta(minutes=i * 17)
            out.append(read(org, f"{org}-usual-{i % 40}", at))
    return out


@dataclass
class Detection:
    """A running detection service and what a test needs around it."""

    http: AppClient
    schema: str
    engine: AsyncEngine
    prefix: str

    async def publish(self, *evs: events.Envelope) -> None:
        await publish(*evs, prefix=self.prefix)

    async def incidents(self) -> list[dict[str, Any]]:
        response = await self.http.get("/incidents", headers=SECURITY)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["incidents"]
        return found

    async def alerts(self) -> list[dict[str, Any]]:
        """Every alert staged for Kafka, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT value FROM outbox WHERE topic = :t ORDER BY id"),
                {"t": self.prefix + events.SECURITY_ALERT_RAISED},
            )
            return [json.loads(v)["payload"] for (v,) in rows]

    async def hours_stored(self, org: str) -> int:
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        text(
                            "SELECT coalesce(sum(reads + refusals), 0) FROM activity "
                            "WHERE organisation_id = :o"
                        ),
                        {"o": org},
                    )
                ).scalar_one()
            )

    async def counted(self, org: str, n: int, within: float = 60) -> None:
        """Wait until ``n`` events of ``org`` are counted in the stored history."""

        async def done() -> bool:
            return await self.hours_stored(org) >= n

        await wait_until(done, within, f"{n} events of {org} to be counted")
