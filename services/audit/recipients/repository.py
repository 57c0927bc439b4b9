"""Database access of recipient notices: INSERT and SELECT only (the tables are append-only).

Nothing here locks a row (``FOR UPDATE`` needs the ``UPDATE`` privilege the service does
not have): two replicas doing the same work meet at a primary or unique key, and the
second's insert does nothing.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.recipients.domain import Received


@dataclass(frozen=True)
class Trigger:
    """One person's erasure, rectification or restriction, as the audit recorded it."""

    event_id: uuid.UUID
    user_id: str
    action: str
    categories: list[str] | None
    occurred_at: datetime


@dataclass(frozen=True)
class RequestFilters:
    organisation: str | None = None
    user_id: str | None = None
    action: str | None = None
    state: str | None = None


async def _returned(session: AsyncSession, sql: str, params: dict[str, Any]) -> bool:
    return (await session.execute(text(sql), params)).first() is not None


async def add_trigger(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Record a triggering event; False when it was recorded before (a redelivery)."""
    return await _returned(
        session,
        "INSERT INTO recipient_triggers (event_id, user_id, action, categories, restricted, "
        "objected, occurred_at, received_at, settle_at, recheck_at) VALUES (:event_id, "
        ":user_id, :action, :categories, :restricted, :objected, :occurred_at, :received_at, "
        ":settle_at, :recheck_at) ON CONFLICT DO NOTHING RETURNING 1",
        row,
    )


async def restriction_before(
    session: AsyncSession, user_id: str, before: datetime
) -> tuple[bool, bool] | None:
    """The person's restriction and objection as last known before ``before``."""
    row = (
        await session.execute(
            text(
                "SELECT restricted, objected FROM recipient_triggers WHERE user_id = :u "
                "AND restricted IS NOT NULL AND occurred_at < :t "
                "ORDER BY occurred_at DESC LIMIT 1"
            ),
            {"u": user_id, "t": before},
        )
    ).first()
    return None if row is None else (bool(row[0]), bool(row[1]))


async def due(
    session: AsyncSession, now: datetime, limit: int, *, since: datetime | None = None
) -> list[tuple[Trigger, str]]:
    """Triggers whose first look-up (settled) or final one (re-check) is due, oldest first;
    with ``since``, only those settled after it."""
    rows = await session.execute(
        text(
            "SELECT t.event_id, t.user_id, t.action, t.categories, t.occurred_at, "
            "CASE WHEN NOT EXISTS (SELECT 1 FROM recipient_sweeps s WHERE s.event_id = "
            "t.event_id AND s.pass = 'first') THEN 'first' ELSE 'final' END AS pass "
            "FROM recipient_triggers t WHERE t.action <> 'none' AND t.settle_at <= :now "
            "AND NOT EXISTS (SELECT 1 FROM recipient_sweeps s WHERE s.event_id = t.event_id "
            "AND s.pass = 'final') AND (t.recheck_at <= :now OR NOT EXISTS (SELECT 1 FROM "
            "recipient_sweeps s WHERE s.event_id = t.event_id AND s.pass = 'first')) "
            + ("AND t.settle_at > :since " if since is not None else "")
            + "ORDER BY t.settle_at LIMIT :limit"
        ),
        {"now": now, "limit": limit, "since": since},
    )
    return [(Trigger(*r[:5]), r[5]) for r in rows]


async def received(session: AsyncSession, user_id: str, cut: datetime) -> list[Received]:
    """Per organisation and category, when it last received the person's data by an
    allowed disclosure made up to ``cut`` (refused attempts do not count)."""
    rows = await session.execute(
        text(
            "SELECT e.organisation_id, f.category, max(e.accessed_at) FROM entries e "
            "CROSS JOIN LATERAL unnest(e.fields) AS f (category) WHERE e.subject_id = :u "
            "AND e.decision = 'allow' AND e.accessed_at <= :cut GROUP BY 1, 2"
        ),
        {"u": user_id, "cut": cut},
    )
    return [Received(*r) for r in rows]


async def add_request(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Record a request; False when its key was asked already."""
    return await _returned(
        session,
        "INSERT INTO recipient_requests (request_id, request_key, trigger_event_id, user_id, "
        "organisation, action, data_categories, last_received_at, requested_at, created_at, "
        "respond_by) VALUES (:request_id, :request_key, :trigger_event_id, :user_id, "
        ":organisation, :action, :data_categories, :last_received_at, :requested_at, "
        ":created_at, :respond_by) ON CONFLICT DO NOTHING RETURNING 1",
        row,
    )


async def add_sweep(
    session: AsyncSession, event_id: uuid.UUID, pass_: str, at: datetime, requests: int
) -> None:
    """Record that a look-up was made, and how many requests it added."""
    await session.execute(
        text(
            "INSERT INTO recipient_sweeps (event_id, pass, swept_at, requests) "
            "VALUES (:e, :p, :t, :n) ON CONFLICT DO NOTHING"
        ),
        {"e": event_id, "p": pass_, "t": at, "n": requests},
    )


async def known_requests(session: AsyncSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` are requests this service made."""
    if not ids:
        return set()
    rows = await session.execute(
        text("SELECT request_id FROM recipient_requests WHERE request_id = ANY(:ids)"),
        {"ids": ids},
    )
    return {r[0] for r in rows}


async def add_outcome(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Record a notice's outcome; False when this outcome event was recorded before."""
    return await _returned(
        session,
        "INSERT INTO recipient_outcomes (event_id, request_id, outcome, at, reason, detail, "
        "message_id) VALUES (:event_id, :request_id, :outcome, :at, :reason, :detail, "
        ":message_id) ON CONFLICT DO NOTHING RETURNING 1",
        row,
    )


async def add_answer(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Record the recipient's answer; False when the request was answered before."""
    return await _returned(
        session,
        "INSERT INTO recipient_answers (request_id, answer, reference, answered_by, "
        "answered_at) VALUES (:request_id, :answer, :reference, :answered_by, :answered_at) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        row,
    )


async def add_escalation(session: AsyncSession, request_id: uuid.UUID, at: datetime) -> bool:
    """Record an escalation; False when the request was escalated before."""
    return await _returned(
        session,
        "INSERT INTO recipient_escalations (request_id, escalated_at) VALUES (:r, :t) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        {"r": request_id, "t": at},
    )


_VIEW = """
    SELECT r.seq, r.request_id, r.user_id, r.organisation, r.action, r.data_categories,
           r.last_received_at, r.requested_at, r.created_at, r.respond_by,
           a.answer, a.reference, a.answered_by, a.answered_at, x.escalated_at,
           o.outcome AS delivery, o.at AS delivery_at, o.reason AS delivery_reason
    FROM recipient_requests r
    LEFT JOIN recipient_answers a ON a.request_id = r.request_id
    LEFT JOIN recipient_escalations x ON x.request_id = r.request_id
    LEFT JOIN LATERAL (
        SELECT outcome, at, reason FROM recipient_outcomes
        WHERE request_id = r.request_id ORDER BY at DESC LIMIT 1
    ) o ON true
"""
"""A request with its answer, escalation and latest delivery outcome."""

_STATES = {
    "outstanding": "a.answer IS NULL AND r.respond_by > :now",
    "overdue": "a.answer IS NULL AND r.respond_by <= :now",
    "confirmed": "a.answer = 'confirmed'",
    "kept": "a.answer = 'kept'",
}


async def get(session: AsyncSession, request_id: uuid.UUID) -> dict[str, Any] | None:
    """One request as the API shows it, or None."""
    row = (
        await session.execute(text(_VIEW + " WHERE r.request_id = :r"), {"r": request_id})
    ).first()
    return None if row is None else dict(row._mapping)


async def page(
    session: AsyncSession, f: RequestFilters, *, now: datetime, after: int | None, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` requests matching ``f`` after position ``after``, in order."""
    clauses: list[str] = []
    params: dict[str, Any] = {"now": now, "limit": limit}
    for column, value in (
        ("organisation", f.organisation),
        ("user_id", f.user_id),
        ("action", f.action),
    ):
        if value is not None:
            clauses.append(f"r.{column} = :{column}")
            params[column] = value
    if f.state is not None:
        clauses.append(_STATES[f.state])
    if after is not None:
        clauses.append("r.seq > :after")
        params["after"] = after
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = await session.execute(text(f"{_VIEW}{where} ORDER BY r.seq LIMIT :limit"), params)
    return [dict(r._mapping) for r in rows]


async def overdue(
    session: AsyncSession, now: datetime, limit: int, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Unanswered requests past their time and not escalated yet, oldest first; with
    ``since``, only those whose time came after it."""
    rows = await session.execute(
        text(
            "SELECT r.request_id, r.organisation, r.user_id, r.action, r.requested_at, "
            "r.respond_by FROM recipient_requests r WHERE r.respond_by <= :now "
            "AND NOT EXISTS (SELECT 1 FROM recipient_answers a WHERE a.request_id = "
            "r.request_id) AND NOT EXISTS (SELECT 1 FROM recipient_escalations x WHERE "
            "x.request_id = r.request_id) "
            + ("AND r.respond_by > :since " if since is not None else "")
            + "ORDER BY r.respond_by LIMIT :limit"
        ),
        {"now": now, "limit": limit, "since": since},
    )
    return [dict(r._mapping) for r in rows]
