"""The member-organisation read path: every disclosure is decided, then recorded.

An organisation asks for some fields of one user, for one purpose. The registry asks
the consent service (purpose, organisation, the user's country, the categories, now),
then stages a ``data.accessed`` event -- for a refusal as much as for a disclosure --
and commits it before any data leaves. A disclosure the law compels skips the consent
check but is recorded the same way, with its legal basis and reference.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import repository
from services.registry.clients import ConsentClient, ConsentUnavailable
from services.registry.domain import (
    LEGAL_DISCLOSURE,
    RegistryRuleError,
    Restriction,
    check_fields,
    select_fields,
)
from services.registry.exceptions import Denied, Gone, NotFound, Unavailable, refused
from services.registry.models import (
    ConsentDecision,
    DecisionGrounds,
    DecisionOut,
    DisclosureOut,
    LegalDisclosureIn,
    UserRow,
)
from shared.db import Sessions, transaction
from shared.events import DataAccessed, DataAccessedPayload, Decision, LegalBasis
from shared.outbox import stage

PRODUCER = "registry"
CHANNEL = "registry_api"


def _fields(requested: list[str]) -> frozenset[str]:
    try:
        return check_fields(requested)
    except RegistryRuleError as exc:
        raise refused(exc) from exc


async def _load(
    session: AsyncSession, user_id: str, *, lock: bool
) -> tuple[UserRow | None, dict[str, Any] | None]:
    """The user and their profile; with ``lock``, held FOR SHARE until the transaction ends,
    so no erasure, rectification or restriction commits between the check and the read."""
    user = await repository.user(session, user_id, share_lock=lock)
    if user is None:
        return None, None
    profile = await repository.profile_of(session, user_id)
    return user, profile.model_dump(mode="json") if profile else None


def _event(
    *,
    user_id: str,
    subject_country: str | None,
    organisation: str,
    organisation_country: str | None,
    actor: str,
    fields: frozenset[str],
    purpose: str,
    at: datetime,
    decision: Decision,
    legal_basis: LegalBasis,
    reason: str,
    legal_reference: str | None = None,
    consent: ConsentDecision | None = None,
) -> DataAccessed:
    return DataAccessed.create(
        producer=PRODUCER,
        subject_id=user_id,
        payload=DataAccessedPayload(
            organisation_id=organisation,
            organisation_country=organisation_country,
            actor=actor,
            subject_id=user_id,
            subject_country=subject_country,
            fields=sorted(fields),
            purpose=purpose,
            legal_basis=legal_basis,
            legal_reference=legal_reference,
            channel=CHANNEL,
            accessed_at=at,
            decision=decision,
            decision_reason=reason,
            consent_id=consent.consent_id if consent else None,
            consent_version=consent.consent_version if consent else None,
            grant_id=consent.grant_id if consent else None,
        ),
    )


async def disclose(
    sessions: Sessions,
    consent: ConsentClient,
    *,
    user_id: str,
    organisation: str,
    actor: str,
    purpose: str,
    requested: list[str],
) -> DisclosureOut:
    """The fields, if the consent service allows; otherwise :class:`Denied`. Both recorded.

    An unknown or erased user is asked about like any other (the consent service then
    refuses for want of consent), so an organisation cannot tell whether someone is
    registered; only a party with standing access learns it, as a 404 or 410.
    """
    fields = _fields(requested)
    at = datetime.now(UTC)
    decision: ConsentDecision | None = None
    refusal: str | None = None
    unavailable: ConsentUnavailable | None = None
    # One transaction from the first read to the event: the user's row is held FOR
    # SHARE throughout, so no erasure, rectification or restriction commits between
    # the check, the decision and the disclosure.
    async with transaction(sessions) as session:
        user, profile = await _load(session, user_id, lock=True)
        common: dict[str, Any] = {
            "user_id": user_id,
            "subject_country": user.country_of_residence if user else None,
            "organisation": organisation,
            "actor": actor,
            "fields": fields,
            "purpose": purpose,
            "at": at,
        }
        if user is not None and (user.restricted or user.objected):
            refusal = Restriction(user.restricted, user.objected).reason()
        else:
            try:
                decision = await consent.decide(
                    user_id=user_id,
                    organisation=organisation,
                    purpose=purpose,
                    data_categories=sorted(fields),
                    at=at,
                    subject_country=common["subject_country"],
                )
            except ConsentUnavailable as exc:
                unavailable, refusal = exc, f"no decision: {exc}"
            else:
                refusal = None if decision.allow else decision.reason
        if refusal is not None:
            event = _deny(common, refusal, decision)
        elif user is not None:
            assert decision is not None
            event = _event(
                **common,
                organisation_country=decision.organisation_country,
                decision=Decision.ALLOW,
                legal_basis=_basis(decision.legal_basis),
                reason=decision.reason,
                consent=decision,
            )
            data = select_fields(fields, user.model_dump(mode="json"), profile)
        if refusal is not None or user is not None:
            stage(session, event)
    if unavailable is not None:
        raise Unavailable(f"no disclosure: {unavailable}") from unavailable
    if refusal is not None:
        raise Denied(refusal, extra={"disclosure_id": str(event.event_id)})
    if user is None:
        await _missing(sessions, user_id)
    assert decision is not None
    return DisclosureOut(
        disclosure_id=event.event_id,
        user_id=user_id,
        organisation=organisation,
        purpose=purpose,
        data=data,
        decision=DecisionOut(
            **decision.model_dump(include=set(DecisionGrounds.model_fields)),
            decision=Decision.ALLOW,
            legal_basis=event.payload.legal_basis,
        ),
        accessed_at=at,
    )


def _basis(value: str | None) -> LegalBasis:
    try:
        return LegalBasis(value or LegalBasis.CONSENT)
    except ValueError:  # a basis this registry does not know yet: record the claim made
        return LegalBasis.CONSENT


def _deny(common: dict[str, Any], reason: str, decision: ConsentDecision | None) -> DataAccessed:
    country = decision.organisation_country if decision else None
    return _event(
        **common,
        organisation_country=country,
        decision=Decision.DENY,
        legal_basis=LegalBasis.CONSENT,
        reason=reason,
        consent=decision,
    )


async def _missing(sessions: Sessions, user_id: str) -> None:
    """Raise 410 for an erased user, 404 for one never registered."""
    async with sessions() as session:
        if await repository.erasure(session, user_id) is not None:
            raise Gone(f"user {user_id} was erased", field="user_id")
    raise NotFound(f"no user {user_id}", field="user_id")


async def disclose_by_law(
    sessions: Sessions, *, user_id: str, body: LegalDisclosureIn, by: str
) -> DisclosureOut:
    """A disclosure under a legal obligation: no consent asked, basis and reference recorded."""
    fields = _fields(body.fields)
    at = datetime.now(UTC)
    reason = f"legal obligation: {body.legal_reference}"
    async with transaction(sessions) as session:
        user, profile = await _load(session, user_id, lock=True)
        if user is not None:
            event = _event(
                user_id=user_id,
                subject_country=user.country_of_residence,
                organisation=body.organisation,
                organisation_country=body.organisation_country,
                actor=body.actor or by,
                fields=fields,
                purpose=LEGAL_DISCLOSURE,
                at=at,
                decision=Decision.ALLOW,
                legal_basis=LegalBasis.LEGAL_OBLIGATION,
                reason=reason,
                legal_reference=body.legal_reference,
            )
            stage(session, event)
            data = select_fields(fields, user.model_dump(mode="json"), profile)
    if user is None:
        await _missing(sessions, user_id)
    return DisclosureOut(
        disclosure_id=event.event_id,
        user_id=user_id,
        organisation=body.organisation,
        purpose=LEGAL_DISCLOSURE,
        data=data,
        decision=DecisionOut(
            decision=Decision.ALLOW, reason=reason, legal_basis=LegalBasis.LEGAL_OBLIGATION
        ),
        accessed_at=at,
    )
