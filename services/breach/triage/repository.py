"""Database access of triage; every function runs in the caller's session."""

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import AlertRaisedPayload

_INCIDENT = (
    "incident_id, status, organisation_id, producer, channel, rules, data_categories, "
    "window_start, window_end, first_detected_at, last_detected_at, received_at, alerts, "
    "summary, escalated_at, decided_at, decided_by, reason, breach_id"
)


async def add_alert(session: AsyncSession, alert: AlertRaisedPayload, *, at: datetime) -> bool:
    """Keep an alert and merge it into its incident (opened by its first alert); False if
    it was kept before (a redelivery)."""
    incident_id = UUID(alert.incident_id)
    await session.execute(
        text(
            "INSERT INTO incidents (incident_id, organisation_id, producer, channel, rules, "
            "data_categories, window_start, window_end, first_detected_at, last_detected_at, "
            "received_at, alerts, summary) "
            "VALUES (:i, :o, :p, :c, ARRAY[CAST(:r AS text)], CAST(:cats AS text[]), :ws, :we, "
            ":d, :d, :at, 0, :s) ON CONFLICT (incident_id) DO NOTHING"
        ),
        {
            "i": incident_id,
            "o": alert.organisation_id,
            "p": alert.producer,
            "c": alert.channel,
            "r": alert.rule.value,
            "cats": sorted(set(alert.data_categories)),
            "ws": alert.window_start,
            "we": alert.window_end,
            "d": alert.detected_at,
            "at": at,
            "s": alert.summary,
        },
    )
    kept = await session.execute(
        text(
            "INSERT INTO incident_alerts (alert_id, incident_id, rule, detected_at, "
            "received_at, payload) VALUES (:a, :i, :r, :d, :at, CAST(:p AS jsonb)) "
            "ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id"
        ),
        {
            "a": UUID(alert.alert_id),
            "i": incident_id,
            "r": alert.rule.value,
            "d": alert.detected_at,
            "at": at,
            "p": alert.model_dump_json(),
        },
    )
    if kept.first() is None:
        return False
    await session.execute(
        text(
            "UPDATE incidents SET alerts = alerts + 1, "
            "rules = ARRAY(SELECT DISTINCT unnest(rules || ARRAY[CAST(:r AS text)]) ORDER BY 1), "
            "data_categories = ARRAY(SELECT DISTINCT unnest(data_categories || "
            "CAST(:cats AS text[])) ORDER BY 1), "
            "window_start = LEAST(window_start, :ws), window_end = GREATEST(window_end, :we), "
            "first_detected_at = LEAST(first_detected_at, :d), "
            "last_detected_at = GREATEST(last_detected_at, :d), "
            "summary = CASE WHEN :d >= last_detected_at THEN :s ELSE summary END "
            "WHERE incident_id = :i"
        ),
        {
            "i": incident_id,
            "r": alert.rule.value,
            "cats": sorted(set(alert.data_categories)),
            "ws": alert.window_start,
            "we": alert.window_end,
            "d": alert.detected_at,
            "s": alert.summary,
        },
    )
    return True


async def get(
    session: AsyncSession, incident_id: UUID, *, lock: bool = False
) -> dict[str, Any] | None:
    """The incident, locked for the caller's transaction when ``lock``."""
    row = await session.execute(
        text(
            f"SELECT {_INCIDENT} FROM incidents WHERE incident_id = :i"
            + (" FOR UPDATE" if lock else "")
        ),
        {"i": incident_id},
    )
    found = row.first()
    return dict(found._mapping) if found is not None else None


async def alerts(session: AsyncSession, incident_id: UUID) -> list[dict[str, Any]]:
    """The incident's alerts, oldest first."""
    rows = await session.execute(
        text(
            "SELECT alert_id, rule, detected_at, received_at, payload FROM incident_alerts "
            "WHERE incident_id = :i ORDER BY detected_at, alert_id"
        ),
        {"i": incident_id},
    )
    out = []
    for row in rows:
        item = dict(row._mapping)
        if isinstance(item["payload"], str):
            item["payload"] = json.loads(item["payload"])
        out.append(item)
    return out


async def listing(session: AsyncSession, *, status: str | None, limit: int) -> list[dict[str, Any]]:
    """Incidents, the open ones first and then the newest."""
    rows = await session.execute(
        text(
            f"SELECT {_INCIDENT} FROM incidents WHERE (CAST(:s AS text) IS NULL OR status = :s) "
            "ORDER BY (status = 'open') DESC, received_at DESC, incident_id LIMIT :limit"
        ),
        {"s": status, "limit": limit},
    )
    return [dict(row._mapping) for row in rows]


async def decide(
    session: AsyncSession,
    incident_id: UUID,
    *,
    status: str,
    at: datetime,
    by: str,
    reason: str | None,
    breach_id: UUID | None,
) -> None:
    await session.execute(
        text(
            "UPDATE incidents SET status = :s, decided_at = :at, decided_by = :by, "
            "reason = :r, breach_id = :b WHERE incident_id = :i"
        ),
        {"i": incident_id, "s": status, "at": at, "by": by, "r": reason, "b": breach_id},
    )


async def overdue(session: AsyncSession, before: datetime, limit: int) -> list[dict[str, Any]]:
    """Open incidents received before ``before`` and not escalated yet, locked (skipping
    those another replica holds)."""
    rows = await session.execute(
        text(
            f"SELECT {_INCIDENT} FROM incidents WHERE status = 'open' AND escalated_at IS NULL "
            "AND received_at <= :b ORDER BY received_at LIMIT :limit FOR UPDATE SKIP LOCKED"
        ),
        {"b": before, "limit": limit},
    )
    return [dict(row._mapping) for row in rows]


async def mark_escalated(session: AsyncSession, incident_id: UUID, at: datetime) -> None:
    await session.execute(
        text("UPDATE incidents SET escalated_at = :at WHERE incident_id = :i"),
        {"i": incident_id, "at": at},
    )
