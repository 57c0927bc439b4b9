"""Database access of the detection service: statements and rows."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.detection.domain import Counted


@dataclass(frozen=True)
class Grant:
    grant_id: str
    organisation_id: str
    data_categories: frozenset[str]
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None

    @property
    def ends(self) -> datetime:
        """When the grant stopped covering reads: its end, or its revocation if earlier."""
        if self.revoked_at is not None and self.revoked_at < self.valid_until:
            return self.revoked_at
        return self.valid_until


async def activity(
    session: AsyncSession, orgs: Sequence[str], since: datetime
) -> list[tuple[str, datetime, Counted]]:
    """The hourly counts of ``orgs`` from ``since`` on."""
    rows = await session.execute(
        text(
            "SELECT organisation_id, hour, reads, refusals, subjects FROM activity "
            "WHERE organisation_id = ANY(:orgs) AND hour >= :since"
        ),
        {"orgs": list(orgs), "since": since},
    )
    return [(org, hour, Counted(r, f, s)) for org, hour, r, f, s in rows]


async def save_activity(
    session: AsyncSession, rows: Sequence[tuple[str, datetime, Counted]]
) -> None:
    """Store hours' counts (never lowering one already stored: a redelivery is harmless)."""
    if not rows:
        return
    await session.execute(
        text(
            "INSERT INTO activity (organisation_id, hour, reads, refusals, subjects) "
            "SELECT * FROM unnest(CAST(:orgs AS text[]), CAST(:hours AS timestamptz[]), "
            "CAST(:reads AS bigint[]), CAST(:refusals AS bigint[]), CAST(:subjects AS bigint[])) "
            "ON CONFLICT (organisation_id, hour) DO UPDATE SET "
            "reads = GREATEST(activity.reads, EXCLUDED.reads), "
            "refusals = GREATEST(activity.refusals, EXCLUDED.refusals), "
            "subjects = GREATEST(activity.subjects, EXCLUDED.subjects)"
        ),
        {
            "orgs": [r[0] for r in rows],
            "hours": [r[1] for r in rows],
            "reads": [r[2].reads for r in rows],
            "refusals": [r[2].refusals for r in rows],
            "subjects": [r[2].subjects for r in rows],
        },
    )


async def prune_activity(session: AsyncSession, before: datetime) -> int:
    """Forget hours older than the baselines look back."""
    result = await session.execute(text("DELETE FROM activity WHERE hour < :b"), {"b": before})
    return int(getattr(result, "rowcount", 0) or 0)


async def watched(session: AsyncSession) -> dict[str, datetime]:
    rows = await session.execute(text("SELECT organisation_id, first_at FROM watched"))
    return {org: at for org, at in rows}


async def save_watched(session: AsyncSession, first: dict[str, datetime]) -> None:
    if not first:
        return
    await session.execute(
        text(
            "INSERT INTO watched (organisation_id, first_at) "
            "SELECT * FROM unnest(CAST(:orgs AS text[]), CAST(:ats AS timestamptz[])) "
            "ON CONFLICT (organisation_id) DO UPDATE "
            "SET first_at = LEAST(watched.first_at, EXCLUDED.first_at)"
        ),
        {"orgs": list(first), "ats": list(first.values())},
    )


async def seen(session: AsyncSession) -> set[tuple[str, str, str]]:
    rows = await session.execute(text("SELECT kind, organisation_id, value FROM seen"))
    return {(k, o, v) for k, o, v in rows}


async def save_seen(session: AsyncSession, items: dict[tuple[str, str, str], datetime]) -> None:
    if not items:
        return
    keys = list(items)
    await session.execute(
        text(
            "INSERT INTO seen (kind, organisation_id, value, first_at) "
            "SELECT * FROM unnest(CAST(:k AS text[]), CAST(:o AS text[]), CAST(:v AS text[]), "
            "CAST(:a AS timestamptz[])) ON CONFLICT DO NOTHING"
        ),
        {
            "k": [k[0] for k in keys],
            "o": [k[1] for k in keys],
            "v": [k[2] for k in keys],
            "a": [items[k] for k in keys],
        },
    )


async def grants(session: AsyncSession) -> dict[str, Grant]:
    rows = await session.execute(
        text(
            "SELECT grant_id, organisation_id, data_categories, valid_from, valid_until, "
            "revoked_at FROM grants"
        )
    )
    return {r[0]: Grant(r[0], r[1], frozenset(r[2]), r[3], r[4], r[5]) for r in rows}


async def save_grant(session: AsyncSession, grant: Grant) -> None:
    await session.execute(
        text(
            "INSERT INTO grants (grant_id, organisation_id, data_categories, valid_from, "
            "valid_until, revoked_at) VALUES (:g, :o, :c, :f, :u, :r) "
            "ON CONFLICT (grant_id) DO UPDATE SET data_categories = EXCLUDED.data_categories, "
            "valid_from = EXCLUDED.valid_from, valid_until = EXCLUDED.valid_until, "
            "revoked_at = coalesce(grants.revoked_at, EXCLUDED.revoked_at)"
        ),
        {
            "g": grant.grant_id,
            "o": grant.organisation_id,
            "c": sorted(grant.data_categories),
            "f": grant.valid_from,
            "u": grant.valid_until,
            "r": grant.revoked_at,
        },
    )


async def alert_exists(session: AsyncSession, alert_id: UUID) -> bool:
    row = await session.execute(text("SELECT 1 FROM alerts WHERE alert_id = :a"), {"a": alert_id})
    return row.first() is not None


async def open_incident(
    session: AsyncSession,
    *,
    incident_id: UUID,
    family: str,
    organisation_id: str | None,
    producer: str | None,
    at: datetime,
) -> UUID:
    """The open incident of this family about this organisation (and producer), opened
    now (``incident_id``) if there is none; counted one alert more."""
    row = await session.execute(
        text(
            "INSERT INTO incidents (incident_id, family, organisation_id, producer, opened_at, "
            "last_alert_at, alerts) VALUES (:i, :f, :o, :p, :at, :at, 1) "
            "ON CONFLICT (family, coalesce(organisation_id, ''), coalesce(producer, '')) "
            "WHERE closed_at IS NULL "
            "DO UPDATE SET alerts = incidents.alerts + 1, last_alert_at = EXCLUDED.last_alert_at "
            "RETURNING incident_id"
        ),
        {"i": incident_id, "f": family, "o": organisation_id, "p": producer, "at": at},
    )
    found: UUID = row.scalar_one()
    return found


async def add_alert(
    session: AsyncSession,
    *,
    alert_id: UUID,
    incident_id: UUID,
    rule: str,
    organisation_id: str | None,
    detected_at: datetime,
    payload: str,
) -> None:
    await session.execute(
        text(
            "INSERT INTO alerts (alert_id, incident_id, rule, organisation_id, detected_at, "
            "payload) VALUES (:a, :i, :r, :o, :d, CAST(:p AS jsonb))"
        ),
        {
            "a": alert_id,
            "i": incident_id,
            "r": rule,
            "o": organisation_id,
            "d": detected_at,
            "p": payload,
        },
    )


async def close_incident(
    session: AsyncSession, incident_id: UUID, *, at: datetime, decision: str, breach_id: str | None
) -> bool:
    """Close an open incident; False if it is unknown or closed already."""
    result = await session.execute(
        text(
            "UPDATE incidents SET closed_at = :at, decision = :d, breach_id = :b "
            "WHERE incident_id = :i AND closed_at IS NULL"
        ),
        {"i": incident_id, "at": at, "d": decision, "b": breach_id},
    )
    return bool(getattr(result, "rowcount", 0))


async def incidents(session: AsyncSession, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
    """Incidents, newest first, with their alerts' payloads."""
    rows = await session.execute(
        text(
            "SELECT i.incident_id, i.family, i.organisation_id, i.producer, i.opened_at, "
            "i.last_alert_at, i.alerts, i.closed_at, i.decision, i.breach_id, "
            "coalesce((SELECT jsonb_agg(a.payload ORDER BY a.detected_at, a.alert_id) "
            "FROM alerts a WHERE a.incident_id = i.incident_id), '[]'::jsonb) AS evidence "
            "FROM incidents i WHERE (NOT :open OR i.closed_at IS NULL) "
            "ORDER BY i.opened_at DESC, i.incident_id LIMIT :limit"
        ),
        {"open": open_only, "limit": limit},
    )
    out = []
    for row in rows:
        item = dict(row._mapping)
        if isinstance(item["evidence"], str):  # jsonb read through a plain statement
            item["evidence"] = json.loads(item["evidence"])
        out.append(item)
    return out
