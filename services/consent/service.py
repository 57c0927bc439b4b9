"""Use cases of the consent service. Each writes its state and its events in one transaction."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.consent import directory, repository
from services.consent.domain import (
    Action,
    Consent,
    ConsentChange,
    ConsentRuleError,
    Decision,
    DecisionRequest,
    Restriction,
    check_categories,
    check_window,
    fold,
)
from services.consent.exceptions import Conflict, InvalidRequest, NotFound, refused
from services.consent.models import (
    GrantRow,
    HistoryRow,
    OrganisationRow,
    PurposeRow,
    Receipt,
)
from services.consent.projection import Projection
from services.consent.repository import ORIGIN_HEADER
from shared.clock import Clock
from shared.db import Sessions, transaction
from shared.events import (
    ConsentChangedPayload,
    ConsentGranted,
    ConsentWithdrawn,
    UserErased,
    UserRegistered,
    UserRestrictionChanged,
)
from shared.kafka import claim
from shared.outbox import stage

PRODUCER = "consent"


async def load_projection(sessions: Sessions, origin: str) -> Projection:
    """Seed and announce the directory if needed, then build the projection from the
    database; ``origin`` names this deployment in the events it stages."""
    projection = Projection(origin=origin)
    async with transaction(sessions) as session:
        await repository.seed_directory(session)
    await directory.announce(sessions, projection)
    async with transaction(sessions) as session:
        for p in await repository.purposes(session):
            projection.put_purpose(repository.to_purpose(p))
        for o in await repository.organisations(session):
            projection.put_organisation(repository.to_organisation(o), stamp=o.updated_at)
        for g in await repository.grants(session):
            projection.put_grant(repository.to_grant(g))
        for s in await repository.subjects(session):
            projection.put_subject(s.user_id, s.country, repository.restriction_of(s))
        for row in await repository.history(session):
            projection.apply_change(repository.to_change(row))
    return projection


def receipt(change: ConsentChange, purpose_title: str) -> Receipt:
    """A consent receipt after the Kantara Consent Receipt / ISO/IEC TS 27560 fields."""
    return Receipt.model_validate(
        {
            "receipt_id": change.change_id,
            "version": "KI-CR-v1.1.0",
            "jurisdiction": "ASEAN member states",
            "consent_timestamp": change.at.isoformat(),
            "collection_method": "privacy-events consent API",
            "pii_principal_id": change.user_id,
            "pii_controllers": [{"name": "The platform's administrators"}],
            "action": change.action.value,
            "consent_id": change.consent_id,
            "consent_version": change.version,
            "services": [
                {
                    "purpose": change.purpose,
                    "purpose_title": purpose_title,
                    "pii_categories": sorted(change.data_categories) or ["all the purpose names"],
                    "organisations": [change.organisation] if change.organisation else [],
                    "country": change.country,
                    "valid_until": change.valid_until.isoformat() if change.valid_until else None,
                }
            ],
            "notice_version": change.notice_version,
            "how_to_withdraw": f"POST /consents/{change.consent_id}/withdraw",
        }
    )


def _event(change: ConsentChange) -> ConsentGranted | ConsentWithdrawn:
    payload = ConsentChangedPayload(
        consent_id=change.consent_id,
        version=change.version,
        user_id=change.user_id,
        purpose=change.purpose,
        organisation_id=change.organisation,
        country=change.country,
        data_categories=sorted(change.data_categories),
        notice_version=change.notice_version,
        valid_from=change.at,
        valid_until=change.valid_until,
        reason=change.reason,
    )
    cls = ConsentGranted if change.action is Action.GRANTED else ConsentWithdrawn
    return cls.create(producer=PRODUCER, subject_id=change.user_id, payload=payload)


async def _record(session: AsyncSession, projection: Projection, change: ConsentChange) -> Receipt:
    purpose = projection.view.purposes[change.purpose]
    body = receipt(change, purpose.title)
    session.add(
        HistoryRow(
            change_id=uuid.UUID(change.change_id),
            consent_id=uuid.UUID(change.consent_id),
            version=change.version,
            user_id=change.user_id,
            purpose=change.purpose,
            action=change.action.value,
            at=change.at,
            organisation=change.organisation,
            country=change.country,
            data_categories=sorted(change.data_categories),
            notice_version=change.notice_version,
            valid_until=change.valid_until,
            reason=change.reason,
            receipt=body.model_dump(mode="json"),
        )
    )
    stage(session, _event(change), headers={ORIGIN_HEADER: projection.origin})
    return body


def _new_grant(
    projection: Projection,
    *,
    now: datetime,
    user_id: str,
    purpose: str,
    organisation: str | None,
    country: str | None,
    data_categories: frozenset[str],
    notice_version: str,
    valid_until: datetime | None,
    reason: str | None,
) -> ConsentChange:
    known = projection.view.purposes.get(purpose)
    if known is None:
        raise InvalidRequest(f"unknown purpose '{purpose}'", field="purpose")
    if organisation is not None and organisation not in projection.view.organisations:
        raise InvalidRequest(f"unknown organisation '{organisation}'", field="organisation")
    if notice_version != known.notice_version:
        raise InvalidRequest(
            f"notice version '{notice_version}' is not the current one ('{known.notice_version}')",
            field="notice_version",
        )
    try:
        check_categories(known, data_categories)
        check_window(now, valid_until)
    except ConsentRuleError as exc:
        raise refused(exc) from exc
    return ConsentChange(
        change_id=str(uuid.uuid4()),
        consent_id=str(uuid.uuid4()),
        version=1,
        user_id=user_id,
        purpose=purpose,
        action=Action.GRANTED,
        at=now,
        organisation=organisation,
        country=country,
        data_categories=data_categories,
        notice_version=notice_version,
        valid_until=valid_until,
        reason=reason,
    )


async def grant(
    sessions: Sessions,
    projection: Projection,
    clock: Clock,
    *,
    user_id: str,
    purpose: str,
    organisation: str | None = None,
    country: str | None = None,
    data_categories: frozenset[str] = frozenset(),
    notice_version: str,
    valid_until: datetime | None = None,
    reason: str | None = None,
) -> Receipt:
    """Record a new consent; return its receipt."""
    change = _new_grant(
        projection,
        now=await clock.now(),
        user_id=user_id,
        purpose=purpose,
        organisation=organisation,
        country=country,
        data_categories=data_categories,
        notice_version=notice_version,
        valid_until=valid_until,
        reason=reason,
    )
    async with transaction(sessions) as session:
        body = await _record(session, projection, change)
    projection.apply_change(change)
    return body


async def withdraw(
    sessions: Sessions,
    projection: Projection,
    clock: Clock,
    *,
    consent_id: uuid.UUID,
    reason: str | None,
    owner: str | None = None,
) -> Receipt:
    """Withdraw a consent (future processing stops); return the receipt."""
    now = await clock.now()
    async with transaction(sessions) as session:
        rows = await repository.history(session, consent_id=consent_id)
        if not rows or (owner is not None and rows[0].user_id != owner):
            raise NotFound(f"no consent {consent_id}", field="consent_id")
        current = fold(repository.to_change(r) for r in rows)[str(consent_id)]
        if not current.active:
            raise Conflict(f"consent {consent_id} was already withdrawn", field="consent_id")
        change = ConsentChange(
            change_id=str(uuid.uuid4()),
            consent_id=str(consent_id),
            version=current.version + 1,
            user_id=current.user_id,
            purpose=current.purpose,
            action=Action.WITHDRAWN,
            at=now,
            organisation=current.organisation,
            country=current.country,
            data_categories=current.data_categories,
            notice_version=current.notice_version,
            valid_until=current.valid_until,
            reason=reason,
        )
        body = await _record(session, projection, change)
    projection.apply_change(change)
    return body


async def consents_at(sessions: Sessions, *, user_id: str, at: datetime | None) -> list[Consent]:
    """The user's consents as they stood at ``at`` (now if None), from the history."""
    async with sessions() as session:
        rows = await repository.history(session, user_id=user_id)
    return list(fold((repository.to_change(r) for r in rows), at).values())


async def history(sessions: Sessions, *, user_id: str) -> list[HistoryRow]:
    """Every change of the user's consents, oldest first."""
    async with sessions() as session:
        return list(await repository.history(session, user_id=user_id))


async def get_receipt(sessions: Sessions, *, change_id: uuid.UUID) -> HistoryRow:
    """The change a receipt was issued for, with the receipt; or 404."""
    async with sessions() as session:
        row = await repository.change(session, change_id)
    if row is None:
        raise NotFound(f"no receipt {change_id}", field="receipt_id")
    return row


async def purposes(sessions: Sessions) -> list[PurposeRow]:
    """The purposes, by code."""
    async with sessions() as session:
        return list(await repository.purposes(session))


async def organisations(sessions: Sessions) -> list[OrganisationRow]:
    """The member-organisation directory, by slug."""
    async with sessions() as session:
        return list(await repository.organisations(session))


async def grants(sessions: Sessions, organisation: str | None = None) -> list[GrantRow]:
    """Access grants, oldest first; of one organisation when it is named."""
    async with sessions() as session:
        return list(await repository.grants(session, organisation))


def decide(projection: Projection, request: DecisionRequest) -> Decision:
    """Allow or deny, from memory."""
    return projection.decide(request)


async def handle_user_registered(
    sessions: Sessions, projection: Projection, clock: Clock, event: UserRegistered, topic: str
) -> None:
    """Store the subject's country; record the consents the policies say registering implies."""
    user_id, country = event.payload.user_id, event.payload.country
    now = await clock.now()
    implied = [
        _new_grant(
            projection,
            now=now,
            user_id=user_id,
            purpose=p.code,
            organisation=None,
            country=None,
            data_categories=frozenset(),
            notice_version=p.notice_version,
            valid_until=None,
            reason="implied by registration; the user may withdraw it",
        )
        for p in projection.view.purposes.values()
        if p.implied_by_registration and p.legal_basis == "consent"
    ]
    async with transaction(sessions) as session:
        if not await claim(session, event, topic):
            return
        await repository.upsert_subject(session, user_id, country=country)
        for change in implied:
            await _record(session, projection, change)
    projection.register_subject(user_id, country)
    for change in implied:
        projection.apply_change(change)


async def handle_user_erased(
    sessions: Sessions, projection: Projection, clock: Clock, event: UserErased, topic: str
) -> None:
    """Drop the personal link (country); the pseudonymous history stays for audit."""
    now = await clock.now()
    async with transaction(sessions) as session:
        if not await claim(session, event, topic):
            return
        await repository.upsert_subject(session, event.payload.user_id, country=None, erased_at=now)
    projection.forget_subject(event.payload.user_id)


async def handle_restriction_changed(
    sessions: Sessions, projection: Projection, event: UserRestrictionChanged, topic: str
) -> None:
    """Restriction or objection denies every disclosure until lifted."""
    p = event.payload
    async with transaction(sessions) as session:
        if not await claim(session, event, topic):
            return
        row = await repository.upsert_subject(
            session, p.user_id, restricted=p.restricted, objected=p.objected
        )
    projection.put_subject(p.user_id, row.country, Restriction(p.restricted, p.objected))
