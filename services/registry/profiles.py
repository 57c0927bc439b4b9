"""Use cases of the service-provider profile: write it, publish it, take it down.

A profile is public while published, and published only with the user's consent to
public visibility and no restriction; it is taken down when that consent is withdrawn
or runs out, or the user restricts processing.
"""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import repository
from services.registry.clients import ConsentClient, ConsentUnavailable
from services.registry.domain import (
    PUBLIC_VISIBILITY,
    RegistryRuleError,
    Restriction,
    check_publishable,
)
from services.registry.exceptions import NotFound, Unavailable, refused
from services.registry.models import ProfileIn, ProfileOut, ProfileRow, VisibilityConsentRow
from services.registry.service import PRODUCER, existing, take_down
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import (
    ConsentGranted,
    ConsentWithdrawn,
    ProfilePublished,
    ProfilePublishedPayload,
)
from shared.kafka import claim
from shared.outbox import stage


async def put_profile(
    sessions: Sessions, clock: Clock, user_id: str, body: ProfileIn
) -> tuple[ProfileOut, bool]:
    """Create or replace the user's profile; True when it was created."""
    at = await clock.now()
    values = body.model_dump(mode="json")
    async with transaction(sessions) as session:
        await existing(session, user_id, lock=True)
        profile = await repository.profile_of(session, user_id, lock=True)
        created = profile is None
        if profile is None:
            profile = ProfileRow(
                profile_id=uuid.uuid4(), user_id=user_id, created_at=at, updated_at=at, **values
            )
            session.add(profile)
        else:
            for name, value in values.items():
                setattr(profile, name, value)
            profile.updated_at = at
            if profile.published_at is not None:  # new content is public at once: say so
                _announce(session, profile)
    return ProfileOut.of(profile), created


async def get_profile(sessions: Sessions, user_id: str) -> ProfileOut:
    """The user's profile, published or not."""
    async with sessions() as session:
        await existing(session, user_id)
        profile = await repository.profile_of(session, user_id)
    if profile is None:
        raise NotFound(f"user {user_id} has no profile; create it with PUT", field="user_id")
    return ProfileOut.of(profile)


async def publish(
    sessions: Sessions, clock: Clock, consent: ConsentClient, user_id: str
) -> ProfileOut:
    """Make the profile public; needs consent to public visibility and no restriction.

    The registry knows the user's visibility consents from the consent service's events;
    when none has arrived yet (the user consented a moment ago) it asks the consent
    service, so publishing right after consenting works.
    """
    async with sessions() as session:
        known = await repository.visibility_consents(session, user_id)
    at = await clock.now()
    fetched: list[VisibilityConsentRow] = []
    if not any(c.in_force(at) for c in known):
        try:
            states = await consent.consents(user_id)
        except ConsentUnavailable as exc:
            raise Unavailable(str(exc)) from exc
        fetched = [
            VisibilityConsentRow(
                consent_id=s.consent_id,
                user_id=user_id,
                version=s.version,
                active=s.active,
                valid_until=s.valid_until,
                scoped=s.scoped,
            )
            for s in states
            if s.purpose == PUBLIC_VISIBILITY
        ]
    async with transaction(sessions) as session:
        user = await existing(session, user_id, lock=True)
        profile = await repository.profile_of(session, user_id, lock=True)
        if profile is None:
            raise NotFound(f"user {user_id} has no profile; create it with PUT", field="user_id")
        for row in fetched:
            await repository.put_visibility_consent(session, row)
        consents = await repository.visibility_consents(session, user_id)
        try:
            check_publishable(
                has_consent=any(c.in_force(at) for c in consents),
                restriction=Restriction(user.restricted, user.objected),
            )
        except RegistryRuleError as exc:
            raise refused(exc) from exc
        if profile.published_at is None:
            profile.published_at = profile.updated_at = at
            _announce(session, profile)
    return ProfileOut.of(profile)


def _announce(session: AsyncSession, profile: ProfileRow) -> None:
    stage(
        session,
        ProfilePublished.create(
            producer=PRODUCER,
            subject_id=profile.user_id,
            payload=ProfilePublishedPayload(
                user_id=profile.user_id,
                profile_id=str(profile.profile_id),
                service_name=profile.service_name,
            ),
        ),
    )


async def unpublish(sessions: Sessions, clock: Clock, user_id: str) -> ProfileOut:
    """Take the profile down at the user's request."""
    at = await clock.now()
    async with transaction(sessions) as session:
        await existing(session, user_id, lock=True)
        profile = await repository.profile_of(session, user_id, lock=True)
        if profile is None:
            raise NotFound(f"user {user_id} has no profile", field="user_id")
        if profile.published_at is not None:
            take_down(session, profile, "user_request", at=at)
    return ProfileOut.of(profile)


async def public_profile(sessions: Sessions, profile_id: uuid.UUID) -> ProfileRow:
    """One published profile, or 404."""
    async with sessions() as session:
        row = await repository.published_profile(session, profile_id)
    if row is None:
        raise NotFound(f"no published profile {profile_id}", field="profile_id")
    return row


async def public_profiles(
    sessions: Sessions,
    *,
    country: str | None,
    service_type: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[ProfileRow]:
    """Published profiles, oldest publication first, after the keyset ``after``."""
    async with sessions() as session:
        rows = await repository.published_profiles(
            session, country=country, service_type=service_type, after=after, limit=limit
        )
    return list(rows)


async def handle_consent_changed(
    sessions: Sessions, clock: Clock, event: ConsentGranted | ConsentWithdrawn, topic: str
) -> None:
    """Keep the user's visibility consents; withdrawing the last one unpublishes at once."""
    p = event.payload
    at = await clock.now()
    if p.purpose != PUBLIC_VISIBILITY:
        return
    async with transaction(sessions) as session:
        user = await repository.user(session, p.user_id, lock=True)
        if user is None or not await claim(session, event, topic):
            return
        await repository.put_visibility_consent(
            session,
            VisibilityConsentRow(
                consent_id=p.consent_id,
                user_id=p.user_id,
                version=p.version,
                active=isinstance(event, ConsentGranted),
                valid_until=p.valid_until,
                scoped=bool(p.organisation_id or p.country),
            ),
        )
        if isinstance(event, ConsentGranted):
            return
        consents = await repository.visibility_consents(session, p.user_id)
        profile = await repository.profile_of(session, p.user_id, lock=True)
        if profile and profile.published_at and not any(c.in_force(at) for c in consents):
            take_down(session, profile, "consent_withdrawn", at=at)


async def unpublish_lapsed(sessions: Sessions, clock: Clock) -> int:
    """Take down profiles whose visibility consent ran out (``valid_until`` passed)."""
    at = await clock.now()
    async with sessions() as session:
        user_ids = await repository.lapsed_publications(session, at)
    taken_down = 0
    for user_id in user_ids:
        async with transaction(sessions) as session:
            if await repository.user(session, user_id, lock=True) is None:
                continue
            consents = await repository.visibility_consents(session, user_id)
            profile = await repository.profile_of(session, user_id, lock=True)
            if profile and profile.published_at and not any(c.in_force(at) for c in consents):
                take_down(session, profile, "consent_expired", at=at)
                taken_down += 1
    return taken_down
