"""Use cases of the registry. Each writes its state and its events in one transaction.

Registration, access and export, rectification, restriction and erasure; the profile
lives in :mod:`services.registry.profiles`, the disclosure of a user's data to member
organisations in :mod:`services.registry.disclosure`.
"""

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import repository
from services.registry.domain import CONTACT_FIELDS, OPTIONAL_FIELDS, changed_fields
from services.registry.exceptions import Conflict, Gone, InvalidRequest, NotFound
from services.registry.models import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ErasureOut,
    ErasureRow,
    ExportDocument,
    ProfileOut,
    ProfileRow,
    RegistrationIn,
    RegistrationUpdate,
    RestrictionIn,
    UserOut,
    UserRow,
)
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import (
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
from shared.outbox import stage

PRODUCER = "registry"


async def existing(session: AsyncSession, user_id: str, *, lock: bool = False) -> UserRow:
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


async def register(sessions: Sessions, clock: Clock, body: RegistrationIn) -> UserRow:
    """Register a user; emits ``user.registered`` with only what others need."""
    now = await clock.now()
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


async def dossier(
    sessions: Sessions, clock: Clock, user_id: str, *, kind: str, by: str
) -> ExportDocument:
    """Everything the registry holds about the user; the request itself is logged."""
    now = await clock.now()
    async with transaction(sessions) as session:
        user = await existing(session, user_id)
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
            "profile": ProfileOut.of(profile) if profile else None,
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
    sessions: Sessions, clock: Clock, user_id: str, body: RegistrationUpdate, *, by: str
) -> UserRow:
    """Correct registration fields; emits ``user.updated`` naming what changed."""
    update = body.model_dump(exclude_unset=True)
    for name, value in update.items():
        if value is None and name not in OPTIONAL_FIELDS:
            raise InvalidRequest(f"{name} is required and cannot be removed", field=name)
    now = await clock.now()
    try:
        async with transaction(sessions) as session:
            user = await existing(session, user_id, lock=True)
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


def take_down(session: AsyncSession, profile: ProfileRow, reason: str, *, at: datetime) -> None:
    """Unpublish ``profile`` at ``at`` and announce why, in the caller's transaction."""
    profile.published_at = None
    profile.updated_at = at
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
    sessions: Sessions, clock: Clock, user_id: str, body: RestrictionIn, *, by: str
) -> UserRow:
    """Restrict or object (or lift it); a published profile is taken down while it holds."""
    now = await clock.now()
    async with transaction(sessions) as session:
        user = await existing(session, user_id, lock=True)
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
            take_down(session, profile, "processing_restricted", at=now)
    return user


async def erase(sessions: Sessions, clock: Clock, user_id: str, *, by: str) -> ErasureOut:
    """Remove the user's personal data; emits ``user.erased`` so every service drops theirs."""
    now = await clock.now()
    async with transaction(sessions) as session:
        await existing(session, user_id, lock=True)
        profile = await repository.profile_of(session, user_id, lock=True)
        was_published = bool(profile and profile.published_at)
        if profile and was_published:
            take_down(session, profile, "user_erased", at=now)
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
