"""Database access of the breach service; every function runs in the caller's session."""

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from services.breach.models import AffectedRow, BreachRow, ScopeRow, TimelineRow


async def next_reference_number(session: AsyncSession) -> int:
    """A number no other breach has (the breach's reference is built from it)."""
    return int((await session.execute(text("SELECT nextval('breach_reference')"))).scalar_one())


async def get_breach(
    session: AsyncSession, breach_id: UUID, *, lock: bool = False
) -> BreachRow | None:
    """The breach, locked for the caller's transaction when ``lock``."""
    query = select(BreachRow).where(BreachRow.breach_id == breach_id)  # type: ignore[arg-type]
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def breach_by_key(session: AsyncSession, key: str) -> BreachRow | None:
    """The breach first declared with this Idempotency-Key."""
    query = select(BreachRow).where(BreachRow.idempotency_key == key)  # type: ignore[arg-type]
    return (await session.execute(query)).scalar_one_or_none()


async def list_breaches(
    session: AsyncSession,
    *,
    open_only: bool | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> Sequence[BreachRow]:
    """Breaches, newest awareness first, keyset-paged on (aware_at, breach_id)."""
    query = select(BreachRow)
    if open_only is True:
        query = query.where(BreachRow.closed_at.is_(None))  # type: ignore[union-attr]
    elif open_only is False:
        query = query.where(BreachRow.closed_at.is_not(None))  # type: ignore[union-attr]
    if after is not None:
        query = query.where(tuple_(BreachRow.aware_at, BreachRow.breach_id) < tuple_(*after))
    query = query.order_by(
        BreachRow.aware_at.desc(),  # type: ignore[attr-defined]
        BreachRow.breach_id.desc(),  # type: ignore[attr-defined]
    ).limit(limit)
    return (await session.execute(query)).scalars().all()


async def open_breaches(session: AsyncSession) -> Sequence[BreachRow]:
    """Every breach not yet closed."""
    query = select(BreachRow).where(BreachRow.closed_at.is_(None))  # type: ignore[union-attr]
    return (await session.execute(query)).scalars().all()


def add_timeline(
    session: AsyncSession,
    breach_id: UUID,
    *,
    at: datetime,
    actor: str,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append a change to the breach's timeline, in the caller's transaction."""
    session.add(
        TimelineRow(breach_id=breach_id, at=at, actor=actor, action=action, detail=detail or {})
    )


async def timeline(session: AsyncSession, breach_id: UUID) -> Sequence[TimelineRow]:
    """The breach's timeline, oldest first."""
    query = (
        select(TimelineRow)
        .where(TimelineRow.breach_id == breach_id)  # type: ignore[arg-type]
        .order_by(TimelineRow.seq)  # type: ignore[arg-type]
    )
    return (await session.execute(query)).scalars().all()


async def scopes(session: AsyncSession, breach_id: UUID) -> Sequence[ScopeRow]:
    """The breach's scopes, in the order they were added."""
    query = (
        select(ScopeRow)
        .where(ScopeRow.breach_id == breach_id)  # type: ignore[arg-type]
        .order_by(ScopeRow.scope_id)  # type: ignore[arg-type]
    )
    return (await session.execute(query)).scalars().all()


async def resolving(session: AsyncSession, breach_id: UUID) -> int:
    """How many of the breach's scopes are not resolved yet."""
    query = select(func.count()).where(
        ScopeRow.breach_id == breach_id,  # type: ignore[arg-type]
        ScopeRow.done.is_(False),  # type: ignore[attr-defined]
    )
    return int((await session.execute(query)).scalar_one())


async def pending_scopes(session: AsyncSession, limit: int = 100) -> list[int]:
    """The ids of scopes still being resolved, oldest first."""
    rows = await session.execute(
        text("SELECT scope_id FROM scopes WHERE NOT done ORDER BY scope_id LIMIT :n"),
        {"n": limit},
    )
    return [int(i) for (i,) in rows]


async def lock_scope(session: AsyncSession, scope_id: int) -> ScopeRow | None:
    """The scope without its spec, locked for the caller's transaction; None when another
    holds it. (A scope of named people holds up to 100,000 ids: each page reads only its
    own, through :func:`scope_user_ids`.)"""
    query = (
        select(ScopeRow)
        .options(defer(ScopeRow.spec))  # type: ignore[arg-type]
        .where(ScopeRow.scope_id == scope_id)  # type: ignore[arg-type]
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def scope_spec(session: AsyncSession, scope_id: int) -> dict[str, Any]:
    """The scope's spec, without the list of named people."""
    query = text("SELECT spec - 'user_ids' FROM scopes WHERE scope_id = :s")
    spec: dict[str, Any] = (await session.execute(query, {"s": scope_id})).scalar_one()
    return spec


async def scope_user_ids(
    session: AsyncSession, scope_id: int, start: int, size: int
) -> tuple[list[str], int]:
    """The named people from ``start`` (at most ``size``), and how many it names in all."""
    total = int(
        (
            await session.execute(
                text("SELECT jsonb_array_length(spec->'user_ids') FROM scopes WHERE scope_id = :s"),
                {"s": scope_id},
            )
        ).scalar_one()
    )
    if start >= total:
        return [], total
    path = f"$[{start} to {min(start + size, total) - 1}]"
    ids = (
        await session.execute(
            text(
                "SELECT jsonb_path_query_array(spec->'user_ids', CAST(:p AS jsonpath)) "
                "FROM scopes WHERE scope_id = :s"
            ),
            {"s": scope_id, "p": path},
        )
    ).scalar_one()
    return [str(i) for i in ids], total


async def state_counts(
    session: AsyncSession, breach_ids: Sequence[UUID]
) -> dict[UUID, dict[str, int]]:
    """How many people of each breach are in each stored state."""
    if not breach_ids:
        return {}
    rows = await session.execute(
        text(
            "SELECT breach_id, state, count(*) FROM affected "
            "WHERE breach_id = ANY(CAST(:b AS uuid[])) GROUP BY breach_id, state"
        ),
        {"b": [str(b) for b in breach_ids]},
    )
    counts: dict[UUID, dict[str, int]] = {b: {} for b in breach_ids}
    for breach_id, state, n in rows:
        counts[breach_id][state] = int(n)
    return counts


async def people(
    session: AsyncSession,
    breach_id: UUID,
    *,
    states: Sequence[str] | None,
    after: str | None,
    limit: int,
) -> Sequence[AffectedRow]:
    """The breach's people in user-id order from ``after``, optionally of some states."""
    query = select(AffectedRow).where(AffectedRow.breach_id == breach_id)  # type: ignore[arg-type]
    if states is not None:
        query = query.where(AffectedRow.state.in_(states))  # type: ignore[attr-defined]
    if after is not None:
        query = query.where(AffectedRow.user_id > after)  # type: ignore[arg-type]
    query = query.order_by(AffectedRow.user_id).limit(limit)
    return (await session.execute(query)).scalars().all()


async def stream_people(
    session: AsyncSession, breach_id: UUID, page: int = 2000
) -> AsyncIterator[AffectedRow]:
    """Every person of the breach, read a page at a time."""
    after: str | None = None
    while True:
        rows = await people(session, breach_id, states=None, after=after, limit=page)
        for row in rows:
            yield row
        if len(rows) < page:
            return
        after = rows[-1].user_id


async def subject_ids(
    session: AsyncSession, *, country: str | None, after: str | None, limit: int
) -> list[str]:
    """Known subjects in user-id order from ``after`` (residents of ``country`` if given)."""
    clauses, params = [], {"n": limit, "a": after, "c": country}
    if country is not None:
        clauses.append("country = :c")
    if after is not None:
        clauses.append("user_id > :a")
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = await session.execute(
        text(f"SELECT user_id FROM subjects {where} ORDER BY user_id LIMIT :n"), params
    )
    return [r[0] for r in rows]


async def erase_subject(session: AsyncSession, user_id: str, at: datetime) -> None:
    """Mark the subject erased; their country goes with the rest of their data."""
    await session.execute(
        text(
            "INSERT INTO subjects (user_id, country, country_at, registered_at, erased_at) "
            "VALUES (:u, NULL, :at, :at, :at) "
            "ON CONFLICT (user_id) DO UPDATE SET country = NULL, erased_at = EXCLUDED.erased_at"
        ),
        {"u": user_id, "at": at},
    )


async def add_mark(
    session: AsyncSession,
    *,
    breach_id: UUID,
    mark: str,
    point_hours: int,
    fired_at: datetime,
    pending: int,
) -> bool:
    """Record that a clock point fired; False when it had already (exactly once)."""
    rows = await session.execute(
        text(
            "INSERT INTO clock_marks (breach_id, mark, point_hours, fired_at, pending) "
            "VALUES (:b, :m, :p, :f, :n) ON CONFLICT DO NOTHING RETURNING 1"
        ),
        {"b": breach_id, "m": mark, "p": point_hours, "f": fired_at, "n": pending},
    )
    return rows.first() is not None


async def marks(session: AsyncSession, breach_ids: Sequence[UUID]) -> set[tuple[UUID, str, int]]:
    """The clock points already fired for these breaches."""
    if not breach_ids:
        return set()
    rows = await session.execute(
        text(
            "SELECT breach_id, mark, point_hours FROM clock_marks "
            "WHERE breach_id = ANY(CAST(:b AS uuid[]))"
        ),
        {"b": [str(b) for b in breach_ids]},
    )
    return {(b, m, int(p)) for b, m, p in rows}


async def marks_of(session: AsyncSession, breach_id: UUID) -> list[dict[str, Any]]:
    """The clock points fired for one breach, in order."""
    rows = await session.execute(
        text(
            "SELECT mark, point_hours, fired_at, pending FROM clock_marks "
            "WHERE breach_id = :b ORDER BY fired_at, point_hours"
        ),
        {"b": breach_id},
    )
    return [dict(r._mapping) for r in rows]


async def failed_for_resend(
    session: AsyncSession,
    breach_id: UUID,
    *,
    reasons: Sequence[str],
    user_ids: Sequence[str] | None,
) -> list[tuple[str, list[str], int, str | None]]:
    """The people whose notice failed for one of ``reasons`` (only ``user_ids``, if given),
    locked: each with the categories of their notice, the re-sends asked so far and their
    country of residence when the breach took them in."""
    rows = await session.execute(
        text(
            "SELECT user_id, data_categories, resends, country FROM affected "
            "WHERE breach_id = :b AND state = 'failed' AND reason = ANY(CAST(:r AS text[])) "
            "AND (CAST(:u AS text[]) IS NULL OR user_id = ANY(CAST(:u AS text[]))) "
            "ORDER BY user_id FOR UPDATE"
        ),
        {"b": breach_id, "r": list(reasons), "u": list(user_ids) if user_ids else None},
    )
    return [(r.user_id, list(r.data_categories), int(r.resends), r.country) for r in rows]


async def mark_resent(session: AsyncSession, breach_id: UUID, user_ids: Sequence[str]) -> None:
    """Their notices are asked for again: pending (``requested``) until a new outcome."""
    await session.execute(
        text(
            "UPDATE affected SET state = 'requested', resends = resends + 1 "
            "WHERE breach_id = :b AND user_id = ANY(CAST(:u AS text[]))"
        ),
        {"b": breach_id, "u": list(user_ids)},
    )


async def resent(session: AsyncSession, breach_id: UUID) -> int:
    """How many of the breach's people had their notice sent again."""
    query = text("SELECT count(*) FROM affected WHERE breach_id = :b AND resends > 0")
    return int((await session.execute(query, {"b": breach_id})).scalar_one())


async def set_mail_server(
    session: AsyncSession,
    server: str,
    *,
    down_since: datetime | None,
    reason: str | None,
    at: datetime,
) -> bool:
    """Record a mail server's state as of ``at``; False when a later report stands."""
    rows = await session.execute(
        text(
            "INSERT INTO mail_servers (server, down_since, reason, changed_at) "
            "VALUES (:s, :d, :r, :at) ON CONFLICT (server) DO UPDATE SET "
            "down_since = EXCLUDED.down_since, reason = EXCLUDED.reason, "
            "changed_at = EXCLUDED.changed_at "
            "WHERE mail_servers.changed_at < EXCLUDED.changed_at RETURNING 1"
        ),
        {"s": server, "d": down_since, "r": reason, "at": at},
    )
    return rows.first() is not None


async def mail_servers_down(session: AsyncSession) -> list[dict[str, Any]]:
    """The mail servers unreachable now, as the notifier last said."""
    rows = await session.execute(
        text(
            "SELECT server, down_since, reason FROM mail_servers "
            "WHERE down_since IS NOT NULL ORDER BY server"
        )
    )
    return [dict(r._mapping) for r in rows]
