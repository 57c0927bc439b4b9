"""Each obligation's own clock: its warnings and its missed deadline, once per point.

Each tick reads the time from the service's :class:`~shared.clock.Clock`, the pending
obligations of open breaches and the points already fired (``obligation_marks``). A
warning point or a deadline that has passed while its obligation is not met fires once:
the mark and its event (``breach.obligation_warning`` / ``breach.obligation_missed``) are
written in one transaction, and the mark's primary key makes a second writer (another
replica, a retried tick) a no-op; a service that was down fires on its first tick back,
once. An obligation toward the people is met once everyone its regime covers is told or
covered by the announcement (checked every tick, when the breach's scopes are resolved);
one toward a regulator when the team records that it was told.
"""

from collections import defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID

from services.breach import duties, obligation_store, repository
from services.breach.duties import Duty
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import BreachObligationMissed, BreachObligationWarning
from shared.logging import get_logger
from shared.outbox import stage_many

log = get_logger(__name__)

WARNING, MISSED = "warning", "missed"

Key = tuple[str, str]
"""(regime, recipient)."""


def due_points(
    row: dict[str, Any], now: datetime, fired: set[tuple[UUID, str, str, str, datetime]]
) -> list[tuple[str, datetime]]:
    """The points of one obligation's clock that passed and have not fired yet."""
    if row["deadline_at"] is None:
        return []
    key = (row["breach_id"], row["regime"], row["recipient"])
    points = [(WARNING, at) for at in row["warnings_at"] if at <= now]
    if row["deadline_at"] <= now:
        points.append((MISSED, row["deadline_at"]))
    return [(mark, at) for mark, at in points if (*key, mark, at) not in fired]


async def tick(sessions: Sessions, clock: Clock, duty: Duty) -> int:
    """Fire every obligation's points due, and record people obligations met; returns
    how many points fired."""
    now = await clock.now()
    async with sessions() as session:
        watched = await obligation_store.open_obligations(session)
        fired = await obligation_store.marks(session, list({r["breach_id"] for r in watched}))
    work: dict[UUID, dict[Key, list[tuple[str, datetime]]]] = defaultdict(dict)
    for row in watched:
        due = due_points(row, now, fired)
        if due or row["recipient"] == "people":
            work[row["breach_id"]][(row["regime"], row["recipient"])] = due
    count = 0
    for breach_id, due_by_key in work.items():
        count += await _judge(sessions, clock, duty, breach_id, due_by_key)
    return count


async def _judge(
    sessions: Sessions,
    clock: Clock,
    duty: Duty,
    breach_id: UUID,
    due_by_key: dict[Key, list[tuple[str, datetime]]],
) -> int:
    now = await clock.now()
    fired = 0
    async with transaction(sessions) as session:
        breach = await repository.get_breach(session, breach_id, lock=True)
        if breach is None or breach.closed_at is not None:
            return 0
        rows = {
            (r["regime"], r["recipient"]): r
            for r in await obligation_store.obligations(session, breach_id)
        }
        resolving = await repository.resolving(session, breach_id)
        pending: dict[str, int] | None = None
        for key, due in due_by_key.items():
            row = rows.get(key)
            if row is None or row["state"] != "pending" or row["requirement"] == "not_required":
                continue
            if key[1] == "people":
                # Not judged until the people are known (as the breach's own clock).
                if resolving:
                    continue
                if pending is None:
                    pending = await obligation_store.pending_by_country(
                        session, breach_id, announced=breach.announcement_recorded_at is not None
                    )
                if known(duty, key[0]) and duties.pending_covered(duty, key[0], pending) == 0:
                    await _people_told(session, breach_id, row, now)
                    continue
            for mark, point_at in due:
                if not await obligation_store.add_mark(
                    session, breach_id, *key, mark=mark, point_at=point_at, fired_at=now
                ):
                    continue
                kind = BreachObligationWarning if mark == WARNING else BreachObligationMissed
                payload = duties.payload(
                    duty, breach, row, point_at=point_at if mark == WARNING else None
                )
                await stage_many(
                    session,
                    [kind.create(producer="breach", subject_id=str(breach_id), payload=payload)],
                )
                repository.add_timeline(
                    session,
                    breach_id,
                    at=now,
                    actor="breach",
                    action=f"obligation_{mark}",
                    detail={
                        "regime": key[0],
                        "recipient": key[1],
                        "point_at": point_at.isoformat(),
                    },
                )
                log.warning(
                    f"breach.obligation_{mark}",
                    breach_id=str(breach_id),
                    regime=key[0],
                    recipient=key[1],
                    point_at=point_at.isoformat(),
                )
                fired += 1
    return fired


def known(duty: Duty, regime_id: str) -> bool:
    """Whether the regimes file still has the row (an obligation outlives a removed row)."""
    return any(r.id == regime_id for r in duty.regimes)


async def _people_told(session: Any, breach_id: UUID, row: dict[str, Any], now: datetime) -> None:
    """Everyone the regime covers is told or covered: met, or late after its deadline."""
    told_at = await obligation_store.last_outcome_at(session, breach_id) or now
    deadline = row["deadline_at"]
    late = deadline is not None and told_at > deadline
    await obligation_store.set_met(
        session,
        breach_id,
        row["regime"],
        "people",
        state="late" if late else "met",
        met_at=told_at,
        met_by="breach",
        delay_reasons=None,
        evidence={"people": int(row["people"]), "recorded_at": now.isoformat()},
    )
    repository.add_timeline(
        session,
        breach_id,
        at=now,
        actor="breach",
        action="people_told",
        detail={"regime": row["regime"], "told_at": told_at.isoformat(), "late": late},
    )
