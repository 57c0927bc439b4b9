"""The consent check after the fact, and the consent history it judges against."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import checks_repository as store
from services.audit.domain import ConsentChange, Entry, Verdict, awaits_history, check
from shared.db import Sessions, transaction
from shared.events import (
    ConsentGranted,
    ConsentWithdrawn,
    ViolationDetected,
    ViolationDetectedPayload,
)
from shared.logging import get_logger
from shared.outbox import stage_many

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
        conn = await store.connection(session)
        # Before the first read: another replica's round ends first, and this one starts
        # where it ended instead of colliding with it.
        await store.serialise_deferrals(conn)
        first = await store.checked_up_to(conn)
        settled = now - grace
        looked_at, last = await store.put_off_pending(
            conn,
            first,
            recorded_before=settled,
            waits_after=now - unknown_after,
            at=now,
            limit=limit,
        )
        if looked_at:
            judged = await store.entries_to_judge(conn, first, last, recorded_before=settled)
            # none wait, unless the database's prefilter and the domain's rule disagree
            put_off = await _judge(session, conn, judged, now=now, unknown_after=unknown_after)
            await store.defer_checks(conn, put_off, now)
    return looked_at


async def check_deferred(
    sessions: Sessions, *, unknown_after: timedelta, batch: int, clock: Clock = utc_now
) -> int:
    """Check the disclosures put off whose consent is now known, or that waited
    ``unknown_after`` (those are flagged: the consent is unknown); return how many."""
    now = clock()
    done = 0
    async with transaction(sessions) as session:
        conn = await store.connection(session)
        await store.serialise_deferrals(conn)  # a round at a time, replicas included
        still: list[int] = []  # waiting after all (none, unless the clock went back)
        for _ in range(10_000):  # bounded: 10,000 batches a round at most
            seqs = await store.decidable(
                conn,
                recorded_before=now - unknown_after,
                skip=still,
                limit=batch,
            )
            if not seqs:
                break
            waiting = await store.entries_at(conn, seqs)
            put_off = {
                d.seq
                for d in await _judge(session, conn, waiting, now=now, unknown_after=unknown_after)
            }
            await store.undefer_checks(conn, [seq for seq in seqs if seq not in put_off])
            still.extend(put_off)
            done += len(seqs) - len(put_off)
    return done


async def _judge(
    session: AsyncSession,
    conn: asyncpg.Connection,
    entries: Sequence[tuple[int, Entry, bytes]],
    *,
    now: datetime,
    unknown_after: timedelta,
) -> list[store.Deferral]:
    """Record the verdicts of ``entries``, announcing violations; return those that
    wait for their consent's history."""
    consent_ids = {e.consent_id for _, e, _ in entries if e.consent_id}
    changes = await store.consent_changes(conn, consent_ids)
    by_consent: dict[str, list[ConsentChange]] = {}
    for change in changes:
        by_consent.setdefault(change.consent_id, []).append(change)
    rows = []
    waiting = []
    flagged: list[ViolationDetected] = []
    for seq, entry, _ in entries:
        history = by_consent.get(entry.consent_id, []) if entry.consent_id else []
        if awaits_history(entry, history) and entry.recorded_at > now - unknown_after:
            assert entry.consent_id is not None  # awaits_history says it names one
            waiting.append(store.Deferral(seq, entry.consent_id, entry.recorded_at))
            continue
        verdict, reason = check(entry, history)
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
    await store.add_checks(conn, rows)
    await stage_many(session, flagged)
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
            conn = await store.connection(session)
            await store.serialise_deferrals(conn)
            await store.add_consent_changes(session, changes)
            await store.hear_consents(conn, sorted({c.consent_id for c in changes}))
