"""Use cases of the registry. Each writes its state and its events in one transaction.

Registration, rectification, restriction, erasure and the profile; the disclosure of
a user's data to member organisations lives in :mod:`services.registry.disclosure`.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import repository
from services.registry.clients import ConsentClient, ConsentUnavailable
from services.registry.domain import (
    CONTACT_FIELDS,
    PUBLIC_VISIBILITY,
    RegistryRuleError,
    Restriction,
    changed_fields,
    check_publishable,
)
from services.registry.exceptions import Conflict, Gone, InvalidRequest, NotFound, Unavailable
from services.registry.models import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ErasureOut,
    ErasureRow,
    ExportDocument,
    ProfileIn,
    ProfileOut,
    ProfileRow,
    RegistrationIn,
    RegistrationUpdate,
    RestrictionIn,
    UserOut,
    UserRow,
    VisibilityConsentRow,
)
from shared.db import Sessions, transaction
from shared.events import (
    ConsentGranted,
    ConsentWithdrawn,
    ProfilePublished,
    ProfilePublishedPayload,
    ProfileUnpublished,
    ProfileUnpublishedPayload,
    UserErased,
    UserErasedPayload,
    UserRegistered,
    UserRegisteredPayload,
    UserRestrictionChanged,
    UserRestrictionChangedPayload,
    UserUpdated,
    UserUpdatedPayload,
)
from shared.kafka import claim
from shared.outbox import stage

PRODUCER = "registry"
OPTIONAL_FIELDS = frozenset(
    {"personal_address", "phone_number", "organisation_type", "tax_number", "number_of_employees"}
)


def _now() -> datetime:
    return datetime.now(UTC)


async def _existing(session: AsyncSession, user_id: str, *, lock: bool = False) -> UserRow:
    """The user, or 404 (never registered) or 410 (erased)."""
    row = await repository.user(session, user_id, lock=lock)
    if row is not None:
        return row
    if await repository.erasure(session, user_id) is not None:
        raise Gone(f"user {user_id} was erased", field="user_id")
    raise NotFound(f"no user {user_id}", field="user_id")


async def _duplicate_email(session: AsyncSession, email: str, other_than: str | None) -> None:
    if await repository.email_taken(session, email, other_than=other_than):
        raise Conflict(
            "a user with this email address is already registered", field="email_address"
        )


async def register(sessions: Sessions, body: RegistrationIn) -> UserRow:
    """Register a user; emits ``user.registered`` with only what others need."""
    now = _now()
    row = UserRow(user_id=str(uuid.uuid4()), registered_at=now, updated_at=now, **body.model_dump())
    try:
        async with transaction(sessions) as session:
            await _duplicate_email(session, body.email_address, None)
            session.add(row)
            stage(
                session,
                UserRegistered.create(
                    producer=PRODUCER,
                    subject_id=row.user_id,
                    payload=UserRegisteredPayload(
                        user_id=row.user_id,
                        full_name=row.full_name,
                        email=row.email_address,
                        country=row.country_of_residence,
                        language=row.language,
                    ),
                ),
            )
    except IntegrityError as exc:  # two registrations with one email raced; one wins
        raise Conflict(
            "a user with this email address is already registered", field="email_address"
        ) from exc
    return row


async def dossier(sessions: Sessions, user_id: str, *, kind: str, by: str) -> ExportDocument:
    """Everything the registry holds about the user; the request itself is logged."""
    now = _now()
    async with transaction(sessions) as session:
        user = await _existing(session, user_id)
        profile = await repository.profile_of(session, user_id)
        consents = await repository.visibility_consents(session, user_id)
        repository.record_request(session, user_id=user_id, kind=kind, at=now, by=by)
        requests = await repository.rights_requests(session, user_id)
    return ExportDocument.model_validate(
        {
            "format": EXPORT_FORMAT,
            "format_version": EXPORT_VERSION,
            "exported_at": now,
            "user": UserOut.model_validate(user, from_attributes=True),
            "profile": profile_out(profile) if profile else None,
            "restriction": {
                "restricted": user.restricted,
                "objected": user.objected,
                "reason": user.restriction_reason,
            },
            "public_visibility_consents": [c.model_dump() for c in consents],
            "rights_requests": [
                {"kind": r.kind, "at": r.at, "requested_by": r.requested_by, "fields": r.fields}
                for r in requests
            ],
        }
    )


async def rectify(
    sessions: Sessions, user_id: str, body: RegistrationUpdate, *, by: str
) -> UserRow:
    """Correct registration fields; emits ``user.updated`` naming what changed."""
    update = body.model_dump(exclude_unset=True)
    for name, value in update.items():
        if value is None and name not in OPTIONAL_FIELDS:
            raise InvalidRequest(f"{name} is required and cannot be removed", field=name)
    now = _now()
    try:
        async with transaction(sessions) as session:
            user = await _existing(session, user_id, lock=True)
            changes = changed_fields(user.model_dump(), update)
            if "email_address" in changes:
                await _duplicate_email(session, changes["email_address"], user_id)
            if not changes:
                return user
            for name, value in changes.items():
                setattr(user, name, value)
            user.updated_at = now
            repository.record_request(
                session,
                user_id=user_id,
                kind="rectification",
                at=now,
                by=by,
                fields=sorted(changes),
            )
            contact = {key: changes[f] for key, f in CONTACT_FIELDS.items() if f in changes}
            stage(
                session,
                UserUpdated.create(
                    producer=PRODUCER,
                    subject_id=user_id,
                    payload=UserUpdatedPayload(
                        user_id=user_id, changed_fields=sorted(changes), **contact
                    ),
                ),
            )
    except IntegrityError as exc:
        raise Conflict(
            "a user with this email address is already registered", field="email_address"
        ) from exc
    return user


def _unpublish(session: AsyncSession, profile: ProfileRow, reason: str) -> None:
    profile.published_at = None
    profile.updated_at = _now()
    stage(
        session,
        ProfileUnpublished.create(
            producer=PRODUCER,
            subject_id=profile.user_id,
            payload=ProfileUnpublishedPayload(
                user_id=profile.user_id, profile_id=str(profile.profile_id), reason=reason
            ),
        ),
    )


async def set_restriction(
    sessions: Sessions, user_id: str, body: RestrictionIn, *, by: str
) -> UserRow:
    """Restrict or object (or lift it); a published profile is taken down while it holds."""
    now = _now()
    async with transaction(sessions) as session:
        user = await _existing(session, user_id, lock=True)
        state = (body.restricted, body.objected, body.reason)
        if (user.restricted, user.objected, user.restriction_reason) == state:
            return user
        user.restricted, user.objected = body.restricted, body.objected
        user.restriction_reason = body.reason
        user.updated_at = now
        kinds = {"restriction": body.restricted, "objection": body.objected}
        kind = "+".join(k for k, on in kinds.items() if on) or "restriction_lifted"
        repository.record_request(session, user_id=user_id, kind=kind, at=now, by=by)
        stage(
            session,
            UserRestrictionChanged.create(
                producer=PRODUCER,
                subject_id=user_id,
                payload=UserRestrictionChangedPayload(
                    user_id=user_id,
                    restricted=body.restricted,
                    objected=body.objected,
                    reason=body.reason,
                ),
            ),
        )
        profile = await repository.profile_of(session, user_id, lock=True)
        if (body.restricted or body.objected) and profile and profile.published_at:
            _unpublish(session, profile, "processing_restricted")
    return user


async def erase(sessions: Sessions, user_id: str, *, by: str) -> ErasureOut:
    """Remove the user's personal data; emits ``user.erased`` so every service drops theirs."""
    now = _now()
    async with transaction(sessions) as session:
        await _existing(session, user_id, lock=True)
        profile = await repository.profile_of(session, user_id, lock=True)
        was_published = bool(profile and profile.published_at)
        if profile and was_published:
            _unpublish(session, profile, "user_erased")
        await repository.erase(session, user_id)
        session.add(ErasureRow(user_id=user_id, erased_at=now, requested_by=by))
        repository.record_request(session, user_id=user_id, kind="erasure", at=now, by=by)
        stage(
            session,
            UserErased.create(
                producer=PRODUCER,
                subject_id=user_id,
                payload=UserErasedPayload(
                    user_id=user_id, erased_at=now, requested_by=by.partition(":")[0]
                ),
            ),
        )
    return ErasureOut(user_id=user_id, erased_at=now, profile_unpublished=was_published)


# --- The service-provider profile ---------------------------------------------------


def profile_out(row: ProfileRow) -> ProfileOut:
    return ProfileOut.model_validate(
        {**row.model_dump(), "published": row.published_at is not None}
    )


async def put_profile(sessions: Sessions, user_id: str, body: ProfileIn) -> tuple[ProfileRow, bool]:
    """Create or replace the user's profile; True when it was created."""
    now = _now()
    values = body.model_dump(mode="json")
    async with transaction(sessions) as session:
        await _existing(session, user_id, lock=True)
        profile = await repository.profile_of(session, user_id, lock=True)
        created = profile is None
        if profile is None:
            profile = ProfileRow(
                profile_id=uuid.uuid4(), user_id=user_id, created_at=now, updated_at=now, **values
            )
            session.add(profile)
        else:
            for name, value in values.items():
                setattr(profile, name, value)
            profile.updated_at = now
            if profile.published_at is not None:  # new content is public at once: say so
                _announce(session, profile)
    return profile, created


async def get_profile(sessions: Sessions, user_id: str) -> ProfileRow:
    async with sessions() as session:
        await _existing(session, user_id)
        profile = await repository.profile_of(session, user_id)
    if profile is None:
        raise NotFound(f"user {user_id} has no profile; create it with PUT", field="user_id")
    return profile


async def publish(sessions: Sessions, consent: ConsentClient, user_id: str) -> ProfileRow:
    """Make the profile public; needs consent to public visibility and no restriction.

    The registry knows the user's visibility consents from the consent service's events;
    when none has arrived yet (the user consented a moment ago) it asks the consent
    service, so publishing right after consenting works.
    """
    async with sessions() as session:
        known = await repository.visibility_consents(session, user_id)
    now = _now()
    fetched: list[VisibilityConsentRow] = []
    if not any(c.in_force(now) for c in known):
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
        user = await _existing(session, user_id, lock=True)
        profile = await repository.profile_of(session, user_id, lock=True)
        if profile is None:
            raise NotFound(f"user {user_id} has no profile; create it with PUT", field="user_id")
        for row in fetched:
            await repository.put_visibility_consent(session, row)
        consents = await repository.visibility_consents(session, user_id)
        try:
            check_publishable(
                has_consent=any(c.in_force(now) for c in consents),
                restriction=Restriction(user.restricted, user.objected),
            )
        except RegistryRuleError as exc:
            field, _, message = str(exc).partition(": ")
            raise Conflict(message, field=field) from exc
        if profile.published_at is None:
            profile.published_at = profile.updated_at = now
            _announce(session, profile)
    return profile


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


async def unpublish(sessions: Sessions, user_id: str) -> ProfileRow:
    """Take the profile down at the user's request."""
    async with transaction(sessions) as session:
        await _existing(session, user_id, lock=True)
        profile = await repository.profile_of(session, user_id, lock=True)
        if profile is None:
            raise NotFound(f"user {user_id} has no profile", field="user_id")
        if profile.published_at is not None:
            _unpublish(session, profile, "user_request")
    return profile


async def public_profile(sessions: Sessions, profile_id: uuid.UUID) -> ProfileRow:
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
    async with sessions() as session:
        rows = await repository.published_profiles(
            session, country=country, service_type=service_type, after=after, limit=limit
        )
    return list(rows)


async def handle_consent_changed(
    sessions: Sessions, event: ConsentGranted | ConsentWithdrawn, topic: str
) -> None:
    """Keep the user's visibility consents; withdrawing the last one unpublishes at once."""
    p = event.payload
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
        if profile and profile.published_at and not any(c.in_force(_now()) for c in consents):
            _unpublish(session, profile, "consent_withdrawn")


async def unpublish_lapsed(sessions: Sessions) -> int:
    """Take down profiles whose visibility consent ran out (``valid_until`` passed)."""
    now = _now()
    async with sessions() as session:
        user_ids = await repository.lapsed_publications(session, now)
    taken_down = 0
    for user_id in user_ids:
        async with transaction(sessions) as session:
            if await repository.user(session, user_id, lock=True) is None:
                continue
            consents = await repository.visibility_consents(session, user_id)
            profile = await repository.profile_of(session, user_id, lock=True)
            if profile and profile.published_at and not any(c.in_force(now) for c in consents):
                _unpublish(session, profile, "consent_expired")
                taken_down += 1
    return taken_down
