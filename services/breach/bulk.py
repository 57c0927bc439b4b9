"""The breach service's batch writes: a page of people with their notices, a batch of
outcomes. Each is ONE statement over arrays (``unnest``), whatever the batch's size: a
breach of 100,000 people is 100,000 rows each way, and a statement per row (an
executemany) spends most of its time on the round trips and per-statement work."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.breach.models import AffectedRow


async def add_affected(
    session: AsyncSession,
    *,
    breach_id: UUID,
    scope_id: int,
    user_ids: list[str],
    categories: list[str],
    at: datetime,
) -> list[tuple[str, str | None]]:
    """Add people to the breach, each with the country of residence the service knows for
    them; the ones it did not have yet are returned, with that country (None: unknown)."""
    if not user_ids:
        return []
    rows = await session.execute(
        text(
            "INSERT INTO affected "
            "(breach_id, user_id, scope_id, data_categories, requested_at, country) "
            "SELECT :b, x.u, :s, :c, :at, s.country FROM unnest(CAST(:u AS text[])) AS x(u) "
            "LEFT JOIN subjects s ON s.user_id = x.u "
            "ON CONFLICT (breach_id, user_id) DO NOTHING RETURNING user_id, country"
        ),
        {"b": breach_id, "s": scope_id, "c": categories, "at": at, "u": user_ids},
    )
    return [(r[0], r[1]) for r in rows]


async def affected_for_update_many(
    session: AsyncSession, people: Sequence[tuple[UUID, str]]
) -> dict[tuple[UUID, str], AffectedRow]:
    """These people's rows, locked for the caller's transaction (in key order: no
    deadlock between two batches), detached: :func:`save_outcomes` writes them back."""
    if not people:
        return {}
    query = (
        select(AffectedRow)
        .where(tuple_(AffectedRow.breach_id, AffectedRow.user_id).in_(sorted(set(people))))
        .order_by(AffectedRow.breach_id, AffectedRow.user_id)  # type: ignore[arg-type]
        .with_for_update()
    )
    rows = (await session.execute(query)).scalars().all()
    for row in rows:
        session.expunge(row)  # changed in Python, written back in one statement
    return {(r.breach_id, r.user_id): r for r in rows}


OUTCOME_COLUMNS = (
    ("state", "text"),
    ("outcome_at", "timestamptz"),
    ("delivered_at", "timestamptz"),
    ("failed_at", "timestamptz"),
    ("attempts", "integer"),
    ("message_id", "text"),
    ("smtp_code", "integer"),
    ("smtp_reply", "text"),
    ("queue_id", "text"),
    ("reason", "text"),
    ("detail", "text"),
)
"""What an outcome changes on a person's row."""


async def save_outcomes(session: AsyncSession, rows: Sequence[AffectedRow]) -> None:
    """Write the outcomes of a batch of people back with ONE UPDATE (not one per person)."""
    if not rows:
        return
    names = [name for name, _ in OUTCOME_COLUMNS]
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in OUTCOME_COLUMNS)
    sets = ", ".join(f"{name} = x.{name}" for name in names)
    params: dict[str, Any] = {name: [getattr(r, name) for r in rows] for name in names}
    params["b"] = [str(r.breach_id) for r in rows]
    params["u"] = [r.user_id for r in rows]
    await session.execute(
        text(
            f"UPDATE affected SET {sets} FROM unnest(CAST(:b AS uuid[]), CAST(:u AS text[]), "
            f"{arrays}) AS x(breach_id, user_id, {', '.join(names)}) "
            "WHERE affected.breach_id = x.breach_id AND affected.user_id = x.user_id"
        ),
        params,
    )


async def claim_many(session: AsyncSession, events: Sequence[tuple[UUID, str]]) -> set[UUID]:
    """Record events as processed in the caller's transaction; the ids not seen before."""
    if not events:
        return set()
    unique = dict(events)
    rows = await session.execute(
        text(
            "INSERT INTO processed_events (event_id, topic, processed_at) "
            "SELECT e, t, now() FROM unnest(CAST(:e AS uuid[]), CAST(:t AS text[])) AS x(e, t) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        ),
        {"e": [str(e) for e in unique], "t": list(unique.values())},
    )
    return {r[0] for r in rows}


async def record_outcomes(session: AsyncSession, outcomes: Sequence[dict[str, Any]]) -> None:
    """Keep outcomes as the notifier reported them, applied or not (append-only), with
    ONE INSERT for the batch."""
    if not outcomes:
        return
    await session.execute(
        text(
            "INSERT INTO outcomes (event_id, breach_id, user_id, outcome, at, applied, payload) "
            "SELECT * FROM unnest(CAST(:e AS uuid[]), CAST(:b AS uuid[]), CAST(:u AS text[]), "
            "CAST(:o AS text[]), CAST(:at AS timestamptz[]), CAST(:ap AS boolean[]), "
            "CAST(:p AS jsonb[])) ON CONFLICT (event_id) DO NOTHING"
        ),
        {
            "e": [str(o["event_id"]) for o in outcomes],
            "b": [str(o["breach_id"]) for o in outcomes],
            "u": [o["user_id"] for o in outcomes],
            "o": [o["outcome"] for o in outcomes],
            "at": [o["at"] for o in outcomes],
            "ap": [o["applied"] for o in outcomes],
            "p": [json.dumps(o["payload"], default=str) for o in outcomes],
        },
    )


async def upsert_subjects(session: AsyncSession, latest: dict[str, tuple[str, datetime]]) -> None:
    """Know the subjects and where they live (never their contact data), ONE statement
    for a batch: ``latest`` holds each person's country and the time it was said.

    Registrations and rectifications come on different topics, in no set order: the
    country said last, by the event's own time, is the one kept; an erased subject
    stays erased.
    """
    if not latest:
        return
    await session.execute(
        text(
            "INSERT INTO subjects (user_id, country, country_at, registered_at) "
            "SELECT u, c, at, at FROM unnest("
            "CAST(:u AS text[]), CAST(:c AS text[]), CAST(:at AS timestamptz[])) AS x(u, c, at) "
            "ON CONFLICT (user_id) DO UPDATE SET country = EXCLUDED.country, "
            "country_at = EXCLUDED.country_at "
            "WHERE subjects.erased_at IS NULL AND subjects.country_at < EXCLUDED.country_at"
        ),
        {
            "u": list(latest),
            "c": [c for c, _ in latest.values()],
            "at": [at for _, at in latest.values()],
        },
    )
