"""The 72-hour clock: warnings at the configured points, and the missed deadline.

Each tick reads the time from the service's :class:`~shared.clock.Clock` and, for every
open breach, the points already fired (``clock_marks``). A point that has passed while
someone is not yet notified fires once: its mark and its event are written in one
transaction, and the mark's primary key makes a second writer (another replica, a
retried tick) a no-op. A service that was down when a point passed fires it on its
first tick back, once. A breach with a scope still being resolved is not judged until
the scope is: the figures a point records are then the people the breach really has.
"""

from uuid import UUID

from services.breach import domain, repository
from services.breach.queries import counts_of
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import BreachDeadlineMissed, BreachDeadlineWarning, DeadlinePayload
from shared.logging import get_logger
from shared.outbox import stage_many

log = get_logger(__name__)

WARNING, MISSED = "warning", "missed"
MISSED_POINT = 72


async def tick(sessions: Sessions, clock: Clock, points: list[int]) -> int:
    """Fire every clock point due; returns how many fired."""
    now = await clock.now()
    async with sessions() as session:
        breaches = await repository.open_breaches(session)
        fired = await repository.marks(session, [b.breach_id for b in breaches])
    count = 0
    for breach in breaches:
        due = [
            (WARNING, p)
            for p in domain.points_due(breach.aware_at, now, points)
            if (breach.breach_id, WARNING, p) not in fired
        ]
        if now >= domain.deadline_of(breach.aware_at) and (
            (breach.breach_id, MISSED, MISSED_POINT) not in fired
        ):
            due.append((MISSED, MISSED_POINT))
        if due:
            count += await _fire(sessions, clock, breach.breach_id, due)
    return count


async def _fire(
    sessions: Sessions, clock: Clock, breach_id: UUID, due: list[tuple[str, int]]
) -> int:
    now = await clock.now()
    fired = 0
    async with transaction(sessions) as session:
        breach = await repository.get_breach(session, breach_id, lock=True)
        if breach is None or breach.closed_at is not None:
            return 0
        # Read before the counts: a scope is marked done in the transaction that adds its
        # last people, so none resolving here means the counts below hold everyone.
        if await repository.resolving(session, breach_id):
            # Not judged until the people are known: a point fires once, and a figure
            # taken mid-resolution (0 pending, the people a page away) would stay in the
            # evidence for good. The round after the scope resolves judges it.
            return 0
        by_state = (await repository.state_counts(session, [breach_id]))[breach_id]
        counts = counts_of(by_state, breach.announcement_recorded_at is not None)
        if counts.pending == 0:
            return 0  # everyone is told or covered: nothing to warn about
        for mark, point in due:
            if not await repository.add_mark(
                session,
                breach_id=breach_id,
                mark=mark,
                point_hours=point,
                fired_at=now,
                pending=counts.pending,
            ):
                continue
            payload = DeadlinePayload(
                breach_id=str(breach_id),
                reference=breach.reference,
                aware_at=breach.aware_at,
                deadline_at=domain.deadline_of(breach.aware_at),
                point_hours=point if mark == WARNING else None,
                affected=counts.affected,
                pending_notifications=counts.pending,
            )
            event_type = BreachDeadlineWarning if mark == WARNING else BreachDeadlineMissed
            await stage_many(
                session,
                [event_type.create(producer="breach", subject_id=str(breach_id), payload=payload)],
            )
            repository.add_timeline(
                session,
                breach_id,
                at=now,
                actor="breach",
                action="deadline_warning" if mark == WARNING else "deadline_missed",
                detail={"point_hours": point, "pending": counts.pending},
            )
            log.warning(
                f"breach.deadline_{mark}",
                breach_id=str(breach_id),
                point_hours=point,
                pending=counts.pending,
            )
            fired += 1
    return fired
