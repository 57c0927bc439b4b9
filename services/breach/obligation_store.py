"""Database access for the obligations under the regimes: the people counted by country,
the obligations as last derived, their clock marks, and the assessments (append-only).
Every function runs in the caller's session."""

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.breach.obligations import Obligation

UNKNOWN_COUNTRY = ""
"""How people whose country of residence the service does not know are counted."""


async def add_countries(session: AsyncSession, breach_id: UUID, countries: Iterable[str]) -> None:
    """Count people newly added to the breach by country ('' when unknown), ONE statement."""
    tally: dict[str, int] = {}
    for country in countries:
        tally[country or UNKNOWN_COUNTRY] = tally.get(country or UNKNOWN_COUNTRY, 0) + 1
    if not tally:
        return
    await session.execute(
        text(
            "INSERT INTO breach_countries (breach_id, country, people) "
            "SELECT :b, c, n FROM unnest(CAST(:c AS text[]), CAST(:n AS bigint[])) AS x(c, n) "
            "ON CONFLICT (breach_id, country) DO UPDATE "
            "SET people = breach_countries.people + EXCLUDED.people"
        ),
        {"b": breach_id, "c": list(tally), "n": list(tally.values())},
    )


async def countries(session: AsyncSession, breach_id: UUID) -> dict[str, int]:
    """The breach's people by country of residence ('' for unknown)."""
    rows = await session.execute(
        text("SELECT country, people FROM breach_countries WHERE breach_id = :b"),
        {"b": breach_id},
    )
    return {c: int(n) for c, n in rows}


async def pending_by_country(
    session: AsyncSession, breach_id: UUID, *, announced: bool
) -> dict[str, int]:
    """People neither notified nor covered by an announcement, by country ('' unknown)."""
    states = ["requested"] if announced else ["requested", "failed"]
    rows = await session.execute(
        text(
            "SELECT coalesce(country, ''), count(*) FROM affected "
            "WHERE breach_id = :b AND state = ANY(CAST(:s AS text[])) "
            "GROUP BY coalesce(country, '')"
        ),
        {"b": breach_id, "s": states},
    )
    return {c: int(n) for c, n in rows}


async def last_outcome_at(session: AsyncSession, breach_id: UUID) -> datetime | None:
    """When the latest outcome of the breach's notices was known."""
    query = text("SELECT max(outcome_at) FROM affected WHERE breach_id = :b")
    value: datetime | None = (await session.execute(query, {"b": breach_id})).scalar_one()
    return value


OBLIGATION_COLUMNS = (
    "breach_id, regime, recipient, requirement, reason, people, anchor, anchor_at, "
    "anchor_note, deadline_rule, deadline_at, warnings_at, extended_until, phases_until, "
    "no_delay, late_requires_reasons, after_regulator, assessment_due_at, assessment_on_file, "
    "content, form, unverified, disclaimer, state, met_at, met_by, delay_reasons, evidence, "
    "derived_at"
)


async def obligations(
    session: AsyncSession, breach_id: UUID, *, lock: bool = False
) -> list[dict[str, Any]]:
    """The breach's obligations as stored, in regime and recipient order."""
    rows = await session.execute(
        text(
            f"SELECT {OBLIGATION_COLUMNS} FROM obligations WHERE breach_id = :b "
            "ORDER BY regime, recipient DESC" + (" FOR UPDATE" if lock else "")
        ),
        {"b": breach_id},
    )
    return [dict(r._mapping) for r in rows]


async def open_obligations(session: AsyncSession) -> list[dict[str, Any]]:
    """Every obligation of an open breach not met nor ruled out: the ones the clock
    watches."""
    rows = await session.execute(
        text(
            "SELECT o.breach_id, o.regime, o.recipient, o.deadline_at, o.warnings_at "
            "FROM obligations o JOIN breaches b ON b.breach_id = o.breach_id "
            "WHERE b.closed_at IS NULL AND o.state = 'pending' "
            "AND o.requirement <> 'not_required'"
        )
    )
    return [dict(r._mapping) for r in rows]


async def save_derived(
    session: AsyncSession, breach_id: UUID, derived: Sequence[Obligation], *, at: datetime
) -> None:
    """Write the obligations as derived now: new ones added, the others' derived fields
    replaced. A met (or late) obligation keeps its state; the others are ``pending`` or
    ``not_required`` as the requirement says. Obligations no longer derived are kept."""
    for o in derived:
        await session.execute(
            text(
                f"INSERT INTO obligations ({OBLIGATION_COLUMNS}) VALUES ("
                ":b, :regime, :recipient, :requirement, :reason, :people, :anchor, :anchor_at, "
                ":anchor_note, :deadline_rule, :deadline_at, CAST(:warnings AS timestamptz[]), "
                ":extended_until, :phases_until, :no_delay, :late_requires_reasons, "
                ":after_regulator, :assessment_due_at, :assessment_on_file, "
                "CAST(:content AS text[]), :form, CAST(:unverified AS text[]), :disclaimer, "
                ":state, NULL, NULL, NULL, '{}', :at) "
                "ON CONFLICT (breach_id, regime, recipient) DO UPDATE SET "
                "requirement = EXCLUDED.requirement, reason = EXCLUDED.reason, "
                "people = EXCLUDED.people, anchor = EXCLUDED.anchor, "
                "anchor_at = EXCLUDED.anchor_at, anchor_note = EXCLUDED.anchor_note, "
                "deadline_rule = EXCLUDED.deadline_rule, deadline_at = EXCLUDED.deadline_at, "
                "warnings_at = EXCLUDED.warnings_at, extended_until = EXCLUDED.extended_until, "
                "phases_until = EXCLUDED.phases_until, no_delay = EXCLUDED.no_delay, "
                "late_requires_reasons = EXCLUDED.late_requires_reasons, "
                "after_regulator = EXCLUDED.after_regulator, "
                "assessment_due_at = EXCLUDED.assessment_due_at, "
                "assessment_on_file = EXCLUDED.assessment_on_file, "
                "content = EXCLUDED.content, form = EXCLUDED.form, "
                "unverified = EXCLUDED.unverified, disclaimer = EXCLUDED.disclaimer, "
                "state = CASE WHEN obligations.state IN ('met', 'late') THEN obligations.state "
                "ELSE EXCLUDED.state END, derived_at = EXCLUDED.derived_at"
            ),
            {
                "b": breach_id,
                "regime": o.regime_id,
                "recipient": o.recipient.value,
                "requirement": o.requirement.value,
                "reason": o.reason,
                "people": o.people,
                "anchor": o.anchor.value,
                "anchor_at": o.anchor_at,
                "anchor_note": o.anchor_note,
                "deadline_rule": o.deadline_rule,
                "deadline_at": o.deadline_at,
                "warnings": list(o.warnings_at),
                "extended_until": o.extended_until,
                "phases_until": o.phases_until,
                "no_delay": o.no_delay,
                "late_requires_reasons": o.late_requires_reasons,
                "after_regulator": o.after_regulator,
                "assessment_due_at": o.assessment_due_at,
                "assessment_on_file": o.assessment_on_file,
                "content": [c.value for c in o.content],
                "form": o.form,
                "unverified": list(o.unverified),
                "disclaimer": o.disclaimer,
                "state": "not_required" if not o.binds else "pending",
                "at": at,
            },
        )


async def set_met(
    session: AsyncSession,
    breach_id: UUID,
    regime: str,
    recipient: str,
    *,
    state: str,
    met_at: datetime,
    met_by: str,
    delay_reasons: str | None,
    evidence: dict[str, Any],
) -> None:
    """Record that an obligation was met (``met``, or ``late``), with its evidence."""
    await session.execute(
        text(
            "UPDATE obligations SET state = :state, met_at = :met_at, met_by = :met_by, "
            "delay_reasons = :delay, evidence = CAST(:evidence AS jsonb) "
            "WHERE breach_id = :b AND regime = :r AND recipient = :p"
        ),
        {
            "b": breach_id,
            "r": regime,
            "p": recipient,
            "state": state,
            "met_at": met_at,
            "met_by": met_by,
            "delay": delay_reasons,
            "evidence": json.dumps(evidence, default=str),
        },
    )


async def add_mark(
    session: AsyncSession,
    breach_id: UUID,
    regime: str,
    recipient: str,
    *,
    mark: str,
    point_at: datetime,
    fired_at: datetime,
) -> bool:
    """Record that a point of an obligation's clock fired; False when it had already."""
    rows = await session.execute(
        text(
            "INSERT INTO obligation_marks (breach_id, regime, recipient, mark, point_at, "
            "fired_at) VALUES (:b, :r, :p, :m, :at, :f) ON CONFLICT DO NOTHING RETURNING 1"
        ),
        {"b": breach_id, "r": regime, "p": recipient, "m": mark, "at": point_at, "f": fired_at},
    )
    return rows.first() is not None


async def marks(
    session: AsyncSession, breach_ids: Sequence[UUID]
) -> set[tuple[UUID, str, str, str, datetime]]:
    """The obligation clock points already fired for these breaches."""
    if not breach_ids:
        return set()
    rows = await session.execute(
        text(
            "SELECT breach_id, regime, recipient, mark, point_at FROM obligation_marks "
            "WHERE breach_id = ANY(CAST(:b AS uuid[]))"
        ),
        {"b": [str(b) for b in breach_ids]},
    )
    return {(b, r, p, m, at) for b, r, p, m, at in rows}


async def marks_of(session: AsyncSession, breach_id: UUID) -> list[dict[str, Any]]:
    """The obligation clock points fired for one breach, in order."""
    rows = await session.execute(
        text(
            "SELECT regime, recipient, mark, point_at, fired_at FROM obligation_marks "
            "WHERE breach_id = :b ORDER BY point_at, regime, recipient"
        ),
        {"b": breach_id},
    )
    return [dict(r._mapping) for r in rows]


async def add_assessment(
    session: AsyncSession,
    breach_id: UUID,
    *,
    assessed_by: str,
    concluded_at: datetime,
    findings: Sequence[str],
    sensitive: bool,
    text_: str,
    recorded_at: datetime,
) -> int:
    """Keep an assessment (append-only); its sequence number."""
    row = await session.execute(
        text(
            "INSERT INTO assessments (breach_id, assessed_by, concluded_at, findings, sensitive, "
            "text, recorded_at) VALUES (:b, :by, :at, CAST(:f AS text[]), :s, :t, :r) "
            "RETURNING seq"
        ),
        {
            "b": breach_id,
            "by": assessed_by,
            "at": concluded_at,
            "f": list(findings),
            "s": sensitive,
            "t": text_,
            "r": recorded_at,
        },
    )
    return int(row.scalar_one())


async def assessments(session: AsyncSession, breach_id: UUID) -> list[dict[str, Any]]:
    """Every assessment recorded for the breach, oldest first (the last one stands)."""
    rows = await session.execute(
        text(
            "SELECT seq, assessed_by, concluded_at, findings, sensitive, text, recorded_at "
            "FROM assessments WHERE breach_id = :b ORDER BY seq"
        ),
        {"b": breach_id},
    )
    return [dict(r._mapping) for r in rows]
