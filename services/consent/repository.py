"""Database access of the consent service: rows in, domain objects out."""

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.consent.domain import (
    AccessGrant,
    Action,
    ConsentChange,
    Organisation,
    Purpose,
    Restriction,
)
from services.consent.models import (
    GrantRow,
    HistoryRow,
    OrganisationRow,
    PurposeRow,
    SubjectRow,
)

SEED = Path(__file__).parent / "seed"
NOTICE_VERSION = "2024-01-11"
"""The notice version of the seeded purposes: the date of the newest seeded policy."""
ORIGIN_HEADER = "origin"
"""The header naming the deployment (schema) whose consent service made a change."""
_NEXT_STAMP: ColumnElement[datetime] = literal_column(
    "greatest(clock_timestamp(), updated_at + interval '1 microsecond')"
)
"""An organisation's next ``updated_at``: taken under the row's lock and always later
than the last, so its changes' events are ordered even if the database clock steps back."""


# Seeding and announcing the directory lock its rows in different orders (the seed file's
# and the slugs'); replicas starting together deadlocked on them, so both take this lock of
# the schema's first, and one replica's step waits for the other's.
_DIRECTORY_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(current_schema(), 1))")


async def seed_directory(session: AsyncSession) -> None:
    """Insert the purposes and organisations the policies name, leaving existing rows alone."""
    await session.execute(_DIRECTORY_LOCK)
    purposes = json.loads((SEED / "purposes.json").read_text())
    for p in purposes:
        await session.execute(
            insert(PurposeRow)
            .values(
                code=p["code"],
                title=p["title"],
                description=p["description"],
                legal_basis=p["legal_basis"],
                implied_by_registration=p["implied_by_registration"],
                data_categories=p["data_categories"],
                notice_text=p["notice_text"],
                notice_version=NOTICE_VERSION,
            )
            .on_conflict_do_nothing()
        )
    for o in json.loads((SEED / "organisations.json").read_text()):
        statement = insert(OrganisationRow).values(
            slug=o["slug"],
            name=o["name"],
            country=o["country"],
            kind=o["kind"],
            standing_access=o["standing_access"],
            privacy_contact=o["privacy_contact"],
        )
        # An organisation seeded before privacy contacts existed gets its seeded one,
        # once: before it is announced, never over what an admin set.
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["slug"],
                set_={"privacy_contact": statement.excluded.privacy_contact},
                where=col(OrganisationRow.announced_at).is_(None)
                & col(OrganisationRow.privacy_contact).is_(None),
            )
        )


async def claim_unannounced(session: AsyncSession) -> Sequence[OrganisationRow]:
    """The organisations never announced, marked announced in the caller's transaction.

    Locked first: replicas starting together announce each organisation once.
    """
    await session.execute(_DIRECTORY_LOCK)
    query = (
        select(OrganisationRow)
        .where(col(OrganisationRow.announced_at).is_(None))
        .order_by(OrganisationRow.slug)
        .with_for_update()
    )
    rows = (await session.execute(query)).scalars().all()
    if rows:
        await session.execute(
            update(OrganisationRow)
            .where(col(OrganisationRow.slug).in_([r.slug for r in rows]))
            .values(announced_at=func.clock_timestamp())
        )
    return rows


def to_purpose(row: PurposeRow) -> Purpose:
    """The domain's view of a purpose row."""
    return Purpose(
        code=row.code,
        title=row.title,
        legal_basis=row.legal_basis,
        implied_by_registration=row.implied_by_registration,
        data_categories=tuple(row.data_categories),
        notice_version=row.notice_version,
    )


def to_organisation(row: OrganisationRow) -> Organisation:
    """The domain's view of an organisation row."""
    return Organisation(
        slug=row.slug,
        name=row.name,
        country=row.country,
        kind=row.kind,
        standing_access=row.standing_access,
        retired_at=row.retired_at,
        privacy_contact=row.privacy_contact,
    )


def to_grant(row: GrantRow) -> AccessGrant:
    """The domain's view of a grant row."""
    return AccessGrant(
        grant_id=str(row.grant_id),
        organisation=row.organisation,
        data_categories=frozenset(row.data_categories),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        revoked_at=row.revoked_at,
    )


def to_change(row: HistoryRow) -> ConsentChange:
    """The domain's view of a history row."""
    return ConsentChange(
        change_id=str(row.change_id),
        consent_id=str(row.consent_id),
        version=row.version,
        user_id=row.user_id,
        purpose=row.purpose,
        action=Action(row.action),
        at=row.at,
        organisation=row.organisation,
        country=row.country,
        data_categories=frozenset(row.data_categories),
        notice_version=row.notice_version,
        valid_until=row.valid_until,
        reason=row.reason,
    )


async def purposes(session: AsyncSession) -> Sequence[PurposeRow]:
    """Every purpose, by code."""
    return (await session.execute(select(PurposeRow).order_by(PurposeRow.code))).scalars().all()


async def organisations(session: AsyncSession) -> Sequence[OrganisationRow]:
    """Every organisation, by slug."""
    query = select(OrganisationRow).order_by(OrganisationRow.slug)
    return (await session.execute(query)).scalars().all()


async def grants(session: AsyncSession, organisation: str | None = None) -> Sequence[GrantRow]:
    """Access grants, oldest first; of one organisation when named."""
    query = select(GrantRow).order_by(GrantRow.created_at)  # type: ignore[arg-type]
    if organisation is not None:
        query = query.where(col(GrantRow.organisation) == organisation)
    return (await session.execute(query)).scalars().all()


async def history(
    session: AsyncSession, user_id: str | None = None, consent_id: UUID | None = None
) -> Sequence[HistoryRow]:
    """The history in the order it was written; of one user or one consent when named."""
    query = select(HistoryRow).order_by(HistoryRow.seq)  # type: ignore[arg-type]
    if user_id is not None:
        query = query.where(col(HistoryRow.user_id) == user_id)
    if consent_id is not None:
        query = query.where(col(HistoryRow.consent_id) == consent_id)
    return (await session.execute(query)).scalars().all()


async def change(session: AsyncSession, change_id: UUID) -> HistoryRow | None:
    """One change of the history, by id."""
    return await session.get(HistoryRow, change_id)


async def subjects(session: AsyncSession) -> Sequence[SubjectRow]:
    """Every user not erased."""
    query = select(SubjectRow).where(SubjectRow.erased_at.is_(None))  # type: ignore[union-attr]
    return (await session.execute(query)).scalars().all()


async def upsert_subject(session: AsyncSession, user_id: str, **values: Any) -> SubjectRow:
    """Create or update what the service keeps of a user."""
    statement = (
        insert(SubjectRow)
        .values(user_id=user_id, **values)
        .on_conflict_do_update(index_elements=["user_id"], set_=values)
        .returning(SubjectRow)
    )
    row: SubjectRow = (await session.execute(statement)).scalars().one()
    return row


def restriction_of(row: SubjectRow) -> Restriction:
    """The domain's view of a user's restriction."""
    return Restriction(restricted=row.restricted, objected=row.objected)


async def add_organisation(session: AsyncSession, values: dict[str, Any]) -> OrganisationRow | None:
    """Insert an organisation, announced and stamped now; None if its slug is taken."""
    statement = (
        insert(OrganisationRow)
        .values(**values, updated_at=func.clock_timestamp(), announced_at=func.clock_timestamp())
        .on_conflict_do_nothing(index_elements=["slug"])
        .returning(OrganisationRow)
    )
    return (await session.execute(statement)).scalars().one_or_none()


async def organisation(session: AsyncSession, slug: str) -> OrganisationRow | None:
    """One organisation, by slug."""
    return await session.get(OrganisationRow, slug)


async def update_organisation(
    session: AsyncSession, slug: str, values: dict[str, Any]
) -> OrganisationRow | None:
    """Change an organisation not retired; None if there is none such."""
    statement = (
        update(OrganisationRow)
        .where(col(OrganisationRow.slug) == slug, col(OrganisationRow.retired_at).is_(None))
        .values(**values, updated_at=_NEXT_STAMP)
        .returning(OrganisationRow)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.execute(statement)).scalars().one_or_none()


async def retire_organisation(
    session: AsyncSession, slug: str, at: datetime
) -> OrganisationRow | None:
    """Mark an organisation retired from ``at``; None if it was already (or is unknown)."""
    return await update_organisation(session, slug, {"retired_at": at})


async def add_grant(session: AsyncSession, values: dict[str, Any]) -> GrantRow:
    """Insert an access grant."""
    statement = insert(GrantRow).values(**values).returning(GrantRow)
    row: GrantRow = (await session.execute(statement)).scalars().one()
    return row


async def grant(session: AsyncSession, grant_id: UUID) -> GrantRow | None:
    """One access grant, by id."""
    return await session.get(GrantRow, grant_id)


async def revoke_grant(session: AsyncSession, grant_id: UUID, at: datetime) -> GrantRow | None:
    """Revoke a grant not yet revoked, from ``at``; None if there is none such."""
    statement = (
        update(GrantRow)
        .where(col(GrantRow.grant_id) == grant_id, col(GrantRow.revoked_at).is_(None))
        .values(revoked_at=at)
        .returning(GrantRow)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.execute(statement)).scalars().one_or_none()
