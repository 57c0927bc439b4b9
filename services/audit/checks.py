"""The consent check after the fact, and the consent history it judges against."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import repository
from services.audit.domain import ConsentChange, Entry, Verdict, awaits_history, check
from shared.db import Sessions, transaction
from shared.events import (
    ConsentGranted,
    ConsentWithdrawn,
    ViolationDetected,
    ViolationDetectedPayload,
)
from shared.logging import get_logger

log = get_logger(__name__)
PRODUCER = "audit"


Clock = Callable[[], datetime]
"""Where the consent check and the signer take the time from (tests move it)."""


def utc_now() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


async def check_pending(
    sessions: Sessions,
    *,
    grace: timedelta,
    unknown_after: timedelta,
    limit: int,
    clock: Clock = utc_now,
) -> int:
    """Check settled disclosures not checked yet, in log order, against the consent
    history; return how many were looked at (at most ``limit``).

    A disclosure naming a consent the history has not heard of waits on its own (it is
    put off, see :func:`check_deferred`): its consent's events may still be on their
    way. Every other disclosure behind it is judged on time.
    """
    now = clock()
    async with transaction(sessions) as session:
        first = await repository.checked_up_to(session)
        pending = await repository.entries_from(
            session, first, recorded_before=now - grace, limit=limit
        )
        if pending:
            put_off = await _judge(session, pending, now=now, unknown_after=unknown_after)
            await repository.defer_checks(session, put_off, now)
    return len(pending)


async def check_deferred(
    sessions: Sessions, *, unknown_after: timedelta, batch: int, clock: Clock = utc_now
) -> int:
    """Check the disclosures put off whose consent is now known, or that waited
    ``unknown_after`` (those are flagged: the consent is unknown); return how many."""
    now = clock()
    done = 0
    after = -1
    async with transaction(sessions) as session:
        while waiting := await repository.decidable(
            session, recorded_before=now - unknown_after, after=after, limit=batch
        ):
            still = set(await _judge(session, waiting, now=now, unknown_after=unknown_after))
            await repository.undefer_checks(
                session, [seq for seq, _, _ in waiting if seq not in still]
            )
            done += len(waiting) - len(still)
            after = waiting[-1][0]
    return done


async def _judge(
    session: AsyncSession,
    entries: Sequence[tuple[int, Entry, bytes]],
    *,
    now: datetime,
    unknown_after: timedelta,
) -> list[int]:
    """Record the verdicts of ``entries``, announcing violations; return the positions
    of those that wait for their consent's history."""
    consent_ids = [e.consent_id for _, e, _ in entries if e.consent_id]
    changes = await repository.consent_changes(session, consent_ids)
    rows = []
    waiting = []
    flagged: list[ViolationDetected] = []
    for seq, entry, _ in entries:
        if awaits_history(entry, changes) and entry.recorded_at > now - unknown_after:
            waiting.append(seq)
            continue
        verdict, reason = check(entry, changes)
        rows.append((seq, verdict.value, reason, now))
        if verdict is Verdict.VIOLATION:
            flagged.append(
                ViolationDetected.create(
                    producer=PRODUCER,
                    subject_id=entry.subject_id,
                    payload=ViolationDetectedPayload(
                        disclosure_event_id=entry.event_id,
                        log_index=seq,
                        organisation_id=entry.organisation_id,
                        purpose=entry.purpose,
                        reason=reason,
                    ),
                )
            )
    await repository.add_checks(session, rows)
    await repository.stage_events(session, flagged)
    if flagged:  # one line a batch: each violation is listed and announced already
        seqs = [v.payload.log_index for v in flagged]
        log.warning("audit.violations", count=len(seqs), seqs=seqs[:20])
    return waiting


async def check_settled(
    sessions: Sessions,
    *,
    grace: timedelta,
    unknown_after: timedelta,
    batch: int = 1000,
    clock: Clock = utc_now,
) -> int:
    """Check every settled disclosure not yet checked, a batch at a time, and the ones
    put off that can be decided now; return how many were looked at."""
    total = await check_deferred(sessions, unknown_after=unknown_after, batch=batch, clock=clock)
    for _ in range(10_000):  # bounded: a round of 2,500,000 entries at most
        done = await check_pending(
            sessions, grace=grace, unknown_after=unknown_after, limit=batch, clock=clock
        )
        total += done
        if done < batch:
            break
    return total


async def record_consents(
    sessions: Sessions, batch: Sequence[ConsentGranted | ConsentWithdrawn]
) -> None:
    """Keep the consent history the after-the-fact check needs (idempotent)."""
    changes = [
        ConsentChange(
            consent_id=e.payload.consent_id,
            version=e.payload.version,
            action="granted" if isinstance(e, ConsentGranted) else "withdrawn",
            user_id=e.payload.user_id,
            purpose=e.payload.purpose,
            organisation=e.payload.organisation_id,
            country=e.payload.country,
            at=e.payload.valid_from,
            valid_until=e.payload.valid_until,
        )
        for e in batch
    ]
    if changes:
        async with transaction(sessions) as session:
            await repository.add_consent_changes(session, changes)
