"""The member-organisation read path: every disclosure is decided, then recorded.

An organisation asks for some fields of one user, for one purpose. The registry asks
the consent service (purpose, organisation, the user's country, the categories, now),
then stages a ``data.accessed`` event -- for a refusal as much as for a disclosure --
and commits it before any data leaves. A disclosure the law compels skips the consent
check but is recorded the same way, with its legal basis and reference.
"""

from datetime import UTC, datetime
from typing import Any

from services.registry import repository
from services.registry.clients import ConsentClient, ConsentDecision, ConsentUnavailable
from services.registry.domain import (
    LEGAL_DISCLOSURE,
    RegistryRuleError,
    Restriction,
    check_fields,
    select_fields,
)
from services.registry.exceptions import Denied, Gone, InvalidRequest, NotFound, Unavailable
from services.registry.models import DecisionOut, DisclosureOut, LegalDisclosureIn, UserRow
from shared.db import Sessions, transaction
from shared.events import DataAccessed, DataAccessedPayload, Decision, LegalBasis
from shared.outbox import stage

PRODUCER = "registry"
CHANNEL = "registry_api"


def _fields(requested: list[str]) -> frozenset[str]:
    try:
        return check_fields(requested)
    except RegistryRuleError as exc:
        raise InvalidRequest(str(exc).partition(": ")[2], field="fields") from exc


async def _user(sessions: Sessions, user_id: str) -> tuple[UserRow, dict[str, Any] | None]:
    async with sessions() as session:
        user = await repository.user(session, user_id)
        if user is None:
            if await repository.erasure(session, user_id) is not None:
                raise Gone(f"user {user_id} was erased", field="user_id")
            raise NotFound(f"no user {user_id}", field="user_id")
        profile = await repository.profile_of(session, user_id)
    return user, profile.model_dump(mode="json") if profile else None


def _event(
    *,
    user: UserRow,
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
        subject_id=user.user_id,
        payload=DataAccessedPayload(
            organisation_id=organisation,
            organisation_country=organisation_country,
            actor=actor,
            subject_id=user.user_id,
            subject_country=user.country_of_residence,
            fields=sorted(fields),
            purpose=purpose,
            legal_basis=legal_basis,
            legal_reference=legal_reference,
            channel=CHANNEL,
            accessed_at=at,
            decision=decision,
            decision_reason=reason,
            consent_id=(consent.consent_id or consent.grant_id) if consent else None,
            consent_version=consent.consent_version if consent else None,
            grant_id=consent.grant_id if consent else None,
        ),
    )


async def _record(sessions: Sessions, event: DataAccessed) -> None:
    async with transaction(sessions) as session:
        stage(session, event)


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
    """The fields, if the consent service allows; otherwise :class:`Denied`. Both recorded."""
    fields = _fields(requested)
    user, profile = await _user(sessions, user_id)
    at = datetime.now(UTC)
    common: dict[str, Any] = {
        "user": user,
        "organisation": organisation,
        "actor": actor,
        "fields": fields,
        "purpose": purpose,
        "at": at,
    }
    restriction = Restriction(user.restricted, user.objected)
    if restriction.any:
        await _refuse(sessions, common, reason=restriction.reason(), country=None)
    try:
        decision = await consent.decide(
            user_id=user_id,
            organisation=organisation,
            purpose=purpose,
            data_categories=sorted(fields),
            at=at,
            subject_country=user.country_of_residence,
        )
    except ConsentUnavailable as exc:
        await _record(
            sessions,
            _event(
                **common,
                organisation_country=None,
                decision=Decision.DENY,
                legal_basis=LegalBasis.CONSENT,
                reason=f"no decision: {exc}",
            ),
        )
        raise Unavailable(f"no disclosure: {exc}") from exc
    if not decision.allow:
        await _refuse(
            sessions,
            common,
            reason=decision.reason,
            country=decision.organisation_country,
            consent=decision,
        )
    event = _event(
        **common,
        organisation_country=decision.organisation_country,
        decision=Decision.ALLOW,
        legal_basis=LegalBasis(decision.legal_basis or LegalBasis.CONSENT),
        reason=decision.reason,
        consent=decision,
    )
    await _record(sessions, event)
    return DisclosureOut(
        disclosure_id=event.event_id,
        user_id=user_id,
        organisation=organisation,
        purpose=purpose,
        data=select_fields(fields, user.model_dump(mode="json"), profile),
        decision=DecisionOut(
            decision=Decision.ALLOW,
            reason=decision.reason,
            legal_basis=event.payload.legal_basis,
            consent_id=decision.consent_id,
            consent_version=decision.consent_version,
            grant_id=decision.grant_id,
        ),
        accessed_at=at,
    )


async def _refuse(
    sessions: Sessions,
    common: dict[str, Any],
    *,
    reason: str,
    country: str | None,
    consent: ConsentDecision | None = None,
) -> None:
    event = _event(
        **common,
        organisation_country=country,
        decision=Decision.DENY,
        legal_basis=LegalBasis.CONSENT,
        reason=reason,
        consent=consent,
    )
    await _record(sessions, event)
    raise Denied(reason, field="purpose", extra={"disclosure_id": str(event.event_id)})


async def disclose_by_law(
    sessions: Sessions, *, user_id: str, body: LegalDisclosureIn, by: str
) -> DisclosureOut:
    """A disclosure under a legal obligation: no consent asked, basis and reference recorded."""
    fields = _fields(body.fields)
    user, profile = await _user(sessions, user_id)
    at = datetime.now(UTC)
    reason = f"legal obligation: {body.legal_reference}"
    event = _event(
        user=user,
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
    await _record(sessions, event)
    return DisclosureOut(
        disclosure_id=event.event_id,
        user_id=user_id,
        organisation=body.organisation,
        purpose=LEGAL_DISCLOSURE,
        data=select_fields(fields, user.model_dump(mode="json"), profile),
        decision=DecisionOut(
            decision=Decision.ALLOW, reason=reason, legal_basis=LegalBasis.LEGAL_OBLIGATION
        ),
        accessed_at=at,
    )
