"""Database access of the registry: rows in and out, nothing else."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.registry.models import (
    ErasureRow,
    ProfileRow,
    RightsRequestRow,
    UserRow,
    VisibilityConsentRow,
)


async def user(
    session: AsyncSession, user_id: str, *, lock: bool = False, share_lock: bool = False
) -> UserRow | None:
    """The user; ``lock`` takes it FOR UPDATE (serialises a user's state changes),
    ``share_lock`` FOR SHARE (no change commits while a disclosure reads it)."""
    query = select(UserRow).where(col(UserRow.user_id) == user_id)
    if lock:
        query = query.with_for_update()
    elif share_lock:
        query = query.with_for_update(read=True)
    return (await session.execute(query)).scalar_one_or_none()


async def email_taken(session: AsyncSession, email: str, *, other_than: str | None = None) -> bool:
    """Another user registered ``email``, in any letter case."""
    query = select(col(UserRow.user_id)).where(func.lower(UserRow.email_address) == email.lower())
    if other_than is not None:
        query = query.where(col(UserRow.user_id) != other_than)
    return (await session.execute(query)).first() is not None


async def erasure(session: AsyncSession, user_id: str) -> ErasureRow | None:
    """The trace of the user's erasure, if they were erased."""
    return await session.get(ErasureRow, user_id)


async def profile_of(
    session: AsyncSession, user_id: str, *, lock: bool = False
) -> ProfileRow | None:
    """The user's profile; ``lock`` takes it FOR UPDATE."""
    query = select(ProfileRow).where(col(ProfileRow.user_id) == user_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def published_profile(session: AsyncSession, profile_id: UUID) -> ProfileRow | None:
    """The profile, if it is published."""
    query = select(ProfileRow).where(
        col(ProfileRow.profile_id) == profile_id, col(ProfileRow.published_at).is_not(None)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def published_profiles(
    session: AsyncSession,
    *,
    country: str | None,
    service_type: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> Sequence[ProfileRow]:
    """Published profiles, oldest publication first, from the keyset cursor ``after``."""
    query = select(ProfileRow).where(col(ProfileRow.published_at).is_not(None))
    if country:
        query = query.where(col(ProfileRow.company_registration_country) == country)
    if service_type:
        query = query.where(func.lower(ProfileRow.service_type) == service_type.lower())
    if after is not None:
        query = query.where(
            func.row(ProfileRow.published_at, ProfileRow.profile_id) > func.row(*after)
        )
    query = query.order_by(col(ProfileRow.published_at), col(ProfileRow.profile_id)).limit(limit)
    return (await session.execute(query)).scalars().all()


async def visibility_consents(
    session: AsyncSession, user_id: str
) -> Sequence[VisibilityConsentRow]:
    """The user's visibility consents, by id."""
    query = select(VisibilityConsentRow).where(col(VisibilityConsentRow.user_id) == user_id)
    result = await session.execute(query.order_by(col(VisibilityConsentRow.consent_id)))
    return result.scalars().all()


async def put_visibility_consent(session: AsyncSession, row: VisibilityConsentRow) -> None:
    """Record a consent's state unless a later version is already recorded."""
    statement = insert(VisibilityConsentRow).values(**row.model_dump())
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["consent_id"],
            set_={
                "version": statement.excluded.version,
                "active": statement.excluded.active,
                "valid_until": statement.excluded.valid_until,
                "scoped": statement.excluded.scoped,
            },
            where=col(VisibilityConsentRow.version) < statement.excluded.version,
        )
    )


async def lapsed_publications(session: AsyncSession, at: datetime) -> Sequence[str]:
    """Users whose profile is published with no visibility consent in force at ``at``."""
    in_force = (
        select(col(VisibilityConsentRow.consent_id))
        .where(
            col(VisibilityConsentRow.user_id) == ProfileRow.user_id,
            col(VisibilityConsentRow.active),
            ~col(VisibilityConsentRow.scoped),
            or_(
                col(VisibilityConsentRow.valid_until).is_(None),
                col(VisibilityConsentRow.valid_until) > at,
            ),
        )
        .exists()
    )
    query = select(col(ProfileRow.user_id)).where(
        col(ProfileRow.published_at).is_not(None), ~in_force
    )
    return (await session.execute(query)).scalars().all()


async def rights_requests(session: AsyncSession, user_id: str) -> Sequence[RightsRequestRow]:
    """The log of the user's rights requests, oldest first."""
    query = select(RightsRequestRow).where(col(RightsRequestRow.user_id) == user_id)
    return (await session.execute(query.order_by(col(RightsRequestRow.request_id)))).scalars().all()


def record_request(
    session: AsyncSession,
    *,
    user_id: str,
    kind: str,
    at: datetime,
    by: str,
    fields: Iterable[str] = (),
) -> None:
    """Log the exercise of a right: names of fields only, never their values."""
    session.add(
        RightsRequestRow(user_id=user_id, kind=kind, at=at, requested_by=by, fields=sorted(fields))
    )


async def erase(session: AsyncSession, user_id: str) -> None:
    """Delete every row holding the user's personal data.

    Published events are already gone from the outbox (the registry's relay deletes
    what it publishes); events not yet published stay, so they still reach Kafka,
    ahead of the ``user.erased`` that tells every consumer to drop them.
    """
    await session.execute(delete(ProfileRow).where(col(ProfileRow.user_id) == user_id))
    await session.execute(
        delete(VisibilityConsentRow).where(col(VisibilityConsentRow.user_id) == user_id)
    )
    await session.execute(delete(UserRow).where(col(UserRow.user_id) == user_id))
