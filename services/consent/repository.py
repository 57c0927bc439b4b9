"""Database access of the consent service: rows in, domain objects out."""

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
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


async def seed_directory(session: AsyncSession) -> None:
    """Insert the purposes and organisations the policies name, leaving existing rows alone."""
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
        await session.execute(
            insert(OrganisationRow)
            .values(
                slug=o["slug"],
                name=o["name"],
                country=o["country"],
                kind=o["kind"],
                standing_access=o["standing_access"],
            )
            .on_conflict_do_nothing()
        )


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


async def retire_organisation(session: AsyncSession, slug: str, at: datetime) -> None:
    """Mark an organisation retired from ``at``."""
    await session.execute(
        update(OrganisationRow).where(col(OrganisationRow.slug) == slug).values(retired_at=at)
    )
