"""Database access of the notifier: contacts, tombstones and deliveries.

The sending path works in batches, one statement per step over arrays (``unnest``),
so claiming or recording 500 notices costs a few round trips, not 500.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.domain import Notice, Outcome, Recipient, State, language_of_country


@dataclass(frozen=True)
class ContactChange:
    user_id: str
    at: datetime
    email: str | None = None
    full_name: str | None = None
    language: str | None = None


_UPSERT_CONTACT = text(
    """
    INSERT INTO contacts (user_id, email, full_name, language, changed_at)
    SELECT :user_id, :email, :full_name, :language, :at
    WHERE NOT EXISTS (SELECT 1 FROM erased_users WHERE user_id = :user_id)
    ON CONFLICT (user_id) DO UPDATE SET
        email = CASE WHEN contacts.changed_at <= excluded.changed_at
                     THEN COALESCE(excluded.email, contacts.email)
                     ELSE COALESCE(contacts.email, excluded.email) END,
        full_name = CASE WHEN contacts.changed_at <= excluded.changed_at
                     THEN COALESCE(excluded.full_name, contacts.full_name)
                     ELSE COALESCE(contacts.full_name, excluded.full_name) END,
        language = CASE WHEN contacts.changed_at <= excluded.changed_at
                     THEN COALESCE(excluded.language, contacts.language)
                     ELSE COALESCE(contacts.language, excluded.language) END,
        changed_at = GREATEST(contacts.changed_at, excluded.changed_at)
    """
)


async def upsert_contacts(session: AsyncSession, changes: Sequence[ContactChange]) -> None:
    """Apply registrations and rectifications; the newer value of each field wins, so
    events arriving out of order (two topics) end in the same row."""
    if changes:
        await session.execute(
            _UPSERT_CONTACT,
            [
                {
                    "user_id": c.user_id,
                    "email": c.email,
                    "full_name": c.full_name,
                    "language": c.language,
                    "at": c.at,
                }
                for c in changes
            ],
        )


async def erase_contacts(session: AsyncSession, erased: Sequence[tuple[str, datetime]]) -> None:
    """Drop the contacts of erased people and keep a tombstone (the id and time only)."""
    if not erased:
        return
    ids = [user_id for user_id, _ in erased]
    await session.execute(
        text("DELETE FROM contacts WHERE user_id = ANY(CAST(:ids AS text[]))"), {"ids": ids}
    )
    await session.execute(
        text(
            "INSERT INTO erased_users (user_id, erased_at) "
            "SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:ats AS timestamptz[])) "
            "ON CONFLICT (user_id) DO NOTHING"
        ),
        {"ids": ids, "ats": [at for _, at in erased]},
    )


async def recipients(
    session: AsyncSession, user_ids: Sequence[str]
) -> tuple[dict[str, Recipient], set[str]]:
    """The known addresses of ``user_ids``, and which of them were erased."""
    rows = await session.execute(
        text(
            "SELECT user_id, email, full_name, language FROM contacts "
            "WHERE user_id = ANY(CAST(:ids AS text[])) AND email IS NOT NULL"
        ),
        {"ids": list(user_ids)},
    )
    found = {r.user_id: Recipient(r.email, r.full_name, r.language) for r in rows}
    erased = await session.execute(
        text("SELECT user_id FROM erased_users WHERE user_id = ANY(CAST(:ids AS text[]))"),
        {"ids": list(user_ids)},
    )
    return found, {r.user_id for r in erased}


@dataclass(frozen=True)
class OrganisationChange:
    organisation: str
    name: str
    country: str | None
    privacy_contact: str | None
    retired_at: datetime | None
    at: datetime


async def upsert_organisations(
    session: AsyncSession, changes: Sequence[OrganisationChange]
) -> None:
    """Keep each organisation's entry as its newest event read says (events carry the
    whole entry, so the newest one is the truth; an older one read late changes nothing)."""
    if not changes:
        return
    newest: dict[str, OrganisationChange] = {}
    for c in changes:  # one row per organisation in one statement
        if c.organisation not in newest or newest[c.organisation].at <= c.at:
            newest[c.organisation] = c
    rows = list(newest.values())
    await session.execute(
        text(
            """
            INSERT INTO organisations (organisation, name, country, privacy_contact,
                                       retired_at, changed_at)
            SELECT * FROM unnest(CAST(:o AS text[]), CAST(:n AS text[]), CAST(:c AS text[]),
                                 CAST(:p AS text[]), CAST(:r AS timestamptz[]),
                                 CAST(:at AS timestamptz[]))
            ON CONFLICT (organisation) DO UPDATE SET
                name = excluded.name, country = excluded.country,
                privacy_contact = excluded.privacy_contact, retired_at = excluded.retired_at,
                changed_at = excluded.changed_at
            WHERE organisations.changed_at <= excluded.changed_at
            """
        ),
        {
            "o": [c.organisation for c in rows],
            "n": [c.name for c in rows],
            "c": [c.country for c in rows],
            "p": [c.privacy_contact for c in rows],
            "r": [c.retired_at for c in rows],
            "at": [c.at for c in rows],
        },
    )


async def organisation_contacts(
    session: AsyncSession, organisations: Sequence[str]
) -> dict[str, Recipient]:
    """The privacy contacts known for ``organisations`` (retired ones included: they
    still hold what they received)."""
    rows = await session.execute(
        text(
            "SELECT organisation, name, country, privacy_contact FROM organisations "
            "WHERE organisation = ANY(CAST(:o AS text[])) AND privacy_contact IS NOT NULL"
        ),
        {"o": list(organisations)},
    )
    return {
        r.organisation: Recipient(r.privacy_contact, r.name, language_of_country(r.country))
        for r in rows
    }


@dataclass(frozen=True)
class Claimed:
    notice_id: str
    fresh: bool
    attempts: int
    uncertain: bool


async def claim(
    session: AsyncSession,
    notices: Sequence[Notice],
    message_ids: Sequence[str],
    *,
    claimed_by: str,
    at: datetime,
) -> dict[str, Claimed]:
    """Claim ``notices`` for sending: new ones, and those claimed before with no outcome
    (a crash or a rebalance came between). Those with an outcome are left out."""
    if not notices:
        return {}
    rows = await session.execute(
        text(
            """
            INSERT INTO deliveries (notice_id, kind, breach_id, user_id, organisation,
                                    message_id, state, claimed_by, requested_at, claimed_at)
            SELECT n, k, b, u, o, m, 'claimed', :by, r, :at
            FROM unnest(CAST(:n AS text[]), CAST(:k AS text[]), CAST(:b AS text[]),
                        CAST(:u AS text[]), CAST(:o AS text[]), CAST(:m AS text[]),
                        CAST(:r AS timestamptz[]))
                 AS t(n, k, b, u, o, m, r)
            ON CONFLICT (notice_id) DO UPDATE SET
                claims = deliveries.claims + 1, claimed_by = excluded.claimed_by,
                claimed_at = excluded.claimed_at,
                uncertain = deliveries.uncertain OR deliveries.started_at IS NOT NULL
            WHERE deliveries.state = 'claimed'
            RETURNING notice_id, (xmax = 0) AS fresh, attempts, uncertain
            """
        ),
        {
            "n": [x.notice_id for x in notices],
            "k": [x.kind for x in notices],
            "b": [x.breach_id for x in notices],
            "u": [x.user_id for x in notices],
            "o": [x.organisation for x in notices],
            "m": list(message_ids),
            "r": [x.requested_at for x in notices],
            "by": claimed_by,
            "at": at,
        },
    )
    return {
        r.notice_id: Claimed(r.notice_id, bool(r.fresh), int(r.attempts), bool(r.uncertain))
        for r in rows
    }


REOPENABLE = ("retries_exhausted", "rejected", "no_contact")
"""Failures a re-send may turn back into a claim: never ``erased``, and never an accepted
or bounced notice (one accepted email per notice, ever)."""


async def reopen(session: AsyncSession, resends: Sequence[tuple[str, int]]) -> list[str]:
    """Turn failed notices back into claims for the n-th re-send asked of each; a re-send
    already taken (read twice) reopens nothing. Returns the notice ids reopened."""
    if not resends:
        return []
    rows = await session.execute(
        text(
            """
            UPDATE deliveries d SET state = 'claimed', resends = t.r, reason = NULL,
                detail = NULL, failed_at = NULL, started_at = NULL
            FROM unnest(CAST(:n AS text[]), CAST(:r AS int[])) AS t(n, r)
            WHERE d.notice_id = t.n AND d.state = 'failed' AND d.resends < t.r
              AND d.reason = ANY(CAST(:ok AS text[]))
            RETURNING d.notice_id
            """
        ),
        {"n": [n for n, _ in resends], "r": [r for _, r in resends], "ok": list(REOPENABLE)},
    )
    return [r.notice_id for r in rows]


async def unstart(session: AsyncSession, notice_id: str) -> None:
    """The server refused the attempt (or no session opened): the notice was not handed
    over, so a crash before its next attempt must not make it ``uncertain``."""
    await session.execute(
        text("UPDATE deliveries SET started_at = NULL WHERE notice_id = :n AND state = 'claimed'"),
        {"n": notice_id},
    )


async def record(session: AsyncSession, outcomes: Sequence[Outcome]) -> list[str]:
    """Write the outcomes of claimed notices; returns the notice ids it wrote (a notice
    already settled by another claimant is left as it is)."""
    if not outcomes:
        return []
    rows = await session.execute(
        text(
            """
            UPDATE deliveries d SET
                state = t.state, attempts = d.attempts + t.attempts, uncertain = t.uncertain,
                accepted_at = CASE WHEN t.state = 'accepted' THEN t.at END,
                failed_at = CASE WHEN t.state = 'failed' THEN t.at END,
                smtp_code = t.code, smtp_reply = t.reply, queue_id = t.qid,
                reason = t.reason, detail = t.detail, language = t.lang
            FROM unnest(CAST(:n AS text[]), CAST(:s AS text[]), CAST(:a AS int[]),
                        CAST(:unc AS boolean[]), CAST(:at AS timestamptz[]),
                        CAST(:code AS int[]), CAST(:reply AS text[]), CAST(:qid AS text[]),
                        CAST(:reason AS text[]), CAST(:detail AS text[]),
                        CAST(:lang AS text[]))
                 AS t(n, state, attempts, uncertain, at, code, reply, qid, reason, detail, lang)
            WHERE d.notice_id = t.n AND d.state = 'claimed'
            RETURNING d.notice_id
            """
        ),
        {
            "n": [o.notice_id for o in outcomes],
            "s": [o.state.value for o in outcomes],
            "a": [o.attempts for o in outcomes],
            "unc": [o.uncertain for o in outcomes],
            "at": [o.at for o in outcomes],
            "code": [o.smtp_code for o in outcomes],
            "reply": [o.smtp_reply for o in outcomes],
            "qid": [o.queue_id for o in outcomes],
            "reason": [o.reason.value if o.reason else None for o in outcomes],
            "detail": [o.detail for o in outcomes],
            "lang": [o.language for o in outcomes],
        },
    )
    return [r.notice_id for r in rows]


_COLUMNS = (
    "notice_id, kind, breach_id, user_id, organisation, message_id, state, uncertain, "
    "claims, attempts, language, requested_at, claimed_at, started_at, accepted_at, "
    "failed_at, bounced_at, "
    "smtp_code, smtp_reply, queue_id, reason, detail, bounce_status, resends"
)


async def deliveries_of_breach(
    session: AsyncSession, breach_id: str, *, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """One page of a breach's deliveries, in notice id order, after ``after``."""
    rows = await session.execute(
        text(
            f"SELECT {_COLUMNS} FROM deliveries WHERE breach_id = :b "
            "AND (CAST(:after AS text) IS NULL OR notice_id > :after) "
            "ORDER BY notice_id LIMIT :limit"
        ),
        {"b": breach_id, "after": after, "limit": limit},
    )
    return [dict(r._mapping) for r in rows]


async def summary_of_breach(session: AsyncSession, breach_id: str) -> dict[str, Any]:
    """How many of a breach's notices are in each state, and how many are uncertain."""
    rows = await session.execute(
        text(
            "SELECT state, count(*) AS n, count(*) FILTER (WHERE uncertain) AS u, "
            "count(*) FILTER (WHERE claims > 1) AS again "
            "FROM deliveries WHERE breach_id = :b GROUP BY state"
        ),
        {"b": breach_id},
    )
    counts = {state.value: 0 for state in State}
    uncertain = reclaimed = 0
    for r in rows:
        counts[r.state] = int(r.n)
        uncertain += int(r.u)
        reclaimed += int(r.again)
    return {"counts": counts, "uncertain": uncertain, "reclaimed": reclaimed}


async def delivery_by_message_id(
    session: AsyncSession, message_id: str, *, lock: bool = False
) -> dict[str, Any] | None:
    """The delivery that sent ``message_id``, if any (locked for update when asked)."""
    rows = await session.execute(
        text(
            f"SELECT {_COLUMNS} FROM deliveries WHERE message_id = :m"
            + (" FOR UPDATE" if lock else "")
        ),
        {"m": message_id},
    )
    row = rows.first()
    return dict(row._mapping) if row else None


async def mark_bounced(
    session: AsyncSession, notice_id: str, *, at: datetime, status: str, detail: str
) -> None:
    """Turn an accepted notice into a bounced one."""
    await session.execute(
        text(
            "UPDATE deliveries SET state = 'bounced', bounced_at = :at, bounce_status = :s, "
            "reason = 'bounced', detail = :d WHERE notice_id = :n"
        ),
        {"n": notice_id, "at": at, "s": status, "d": detail},
    )
