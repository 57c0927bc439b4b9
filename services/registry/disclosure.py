"""The member-organisation read path: every disclosure is decided, then recorded.

An organisation asks for some fields of one user, for one purpose. The registry asks
the consent service (purpose, organisation, the user's country, the categories, now),
then stages a ``data.accessed`` event -- for a refusal as much as for a disclosure --
and commits it before any data leaves. A disclosure the law compels skips the consent
check but is recorded the same way, with its legal basis and reference.
"""

from datetime import datetime
from typing import Any, NoReturn

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry import queries
from services.registry.clients import ConsentClient, ConsentUnavailable
from services.registry.domain import (
    LEGAL_DISCLOSURE,
    RegistryRuleError,
    Restriction,
    check_fields,
    select_fields,
)
from services.registry.exceptions import Denied, Gone, NotFound, Unavailable, refused
from services.registry.models import ConsentDecision, LegalDisclosureIn
from shared.clock import Clock
from shared.events import DataAccessed, DataAccessedPayload, Decision, LegalBasis
from shared.outbox import stage_raw

PRODUCER = "registry"
CHANNEL = "registry_api"
_ENCODE = msgspec.json.Encoder().encode
USER_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,100}$"
"""A user id, as the registry issues and accepts them."""
PURPOSE_PATTERN = r"^[a-z0-9_]{1,80}$"
"""A purpose code, as the consent service names them."""


def checked_fields(requested: list[str]) -> frozenset[str]:
    """The fields asked for, each one the registry holds; else a 422 naming ``fields``."""
    try:
        return check_fields(requested)
    except RegistryRuleError as exc:
        raise refused(exc) from exc


def record(
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
    """The ``data.accessed`` event that records one decision about one user."""
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
    engine: AsyncEngine,
    consent: ConsentClient,
    clock: Clock,
    *,
    user_id: str,
    organisation: str,
    actor: str,
    purpose: str,
    requested: list[str],
) -> bytes:
    """The answer (a :class:`DisclosureOut`, as JSON) if the consent service allows;
    otherwise :class:`Denied`. Both recorded.

    An unknown or erased user is asked about like any other (the consent service then
    refuses for want of consent), so an organisation cannot tell whether someone is
    registered; only a party with standing access learns it, as a 404 or 410.
    """
    fields = checked_fields(requested)
    categories = sorted(fields)
    at = await clock.now()
    decision: ConsentDecision | None = None
    refusal: str | None = None
    unavailable: ConsentUnavailable | None = None
    # One transaction from the first read to the event: the user's row is held FOR
    # SHARE throughout, so no erasure, rectification or restriction commits between
    # the check, the decision and the disclosure; the event commits before the answer.
    async with queries.transaction(engine) as conn:
        user = await queries.subject(conn, user_id)
        country = user["country_of_residence"] if user else None
        if user is not None and (user["restricted"] or user["objected"]):
            refusal = Restriction(user["restricted"], user["objected"]).reason()
        else:
            try:
                decision = await consent.decide(
                    user_id=user_id,
                    organisation=organisation,
                    purpose=purpose,
                    data_categories=categories,
                    at=at,
                    subject_country=country,
                )
            except ConsentUnavailable as exc:
                unavailable, refusal = exc, f"no decision: {exc}"
            else:
                refusal = None if decision.allow else decision.reason
        common: dict[str, Any] = {
            "user_id": user_id,
            "subject_country": country,
            "organisation": organisation,
            "actor": actor,
            "fields": fields,
            "purpose": purpose,
            "at": at,
        }
        if refusal is not None:
            event = denied(common, refusal, decision)
        elif user is not None:
            assert decision is not None
            event = allowed(common, decision)
        if refusal is not None or user is not None:
            await stage_raw(conn, [event])
    if unavailable is not None:
        raise Unavailable(f"no disclosure: {unavailable}") from unavailable
    if refusal is not None:
        raise Denied(refusal, extra={"disclosure_id": str(event.event_id)})
    if user is None:
        await _missing(engine, user_id)
    return encode(answer(event, data=values(fields, user)))


def allowed(common: dict[str, Any], decision: ConsentDecision) -> DataAccessed:
    """The record of a disclosure the consent service allowed."""
    return record(
        **common,
        organisation_country=decision.organisation_country,
        decision=Decision.ALLOW,
        legal_basis=_basis(decision.legal_basis),
        reason=decision.reason,
        consent=decision,
    )


def answer(event: DataAccessed, *, data: dict[str, Any]) -> dict[str, Any]:
    """What a disclosure answers, in the shape of :class:`DisclosureOut`, from its event
    (so the answer and the record cannot disagree)."""
    p = event.payload
    return {
        "disclosure_id": event.event_id,
        "user_id": p.subject_id,
        "organisation": p.organisation_id,
        "purpose": p.purpose,
        "data": data,
        "decision": {
            "reason": p.decision_reason,
            "consent_id": p.consent_id,
            "consent_version": p.consent_version,
            "grant_id": p.grant_id,
            "decision": p.decision,
            "legal_basis": p.legal_basis,
        },
        "accessed_at": p.accessed_at,
    }


def encode(answer: dict[str, Any]) -> bytes:
    """An answer as JSON, in one call."""
    return _ENCODE(answer)


def _basis(value: str | None) -> LegalBasis:
    try:
        return LegalBasis(value or LegalBasis.CONSENT)
    except ValueError:  # a basis this registry does not know yet: record the claim made
        return LegalBasis.CONSENT


def denied(common: dict[str, Any], reason: str, decision: ConsentDecision | None) -> DataAccessed:
    """The record of a refusal: by the consent service, a restriction, or for want of an
    answer."""
    country = decision.organisation_country if decision else None
    return record(
        **common,
        organisation_country=country,
        decision=Decision.DENY,
        legal_basis=LegalBasis.CONSENT,
        reason=reason,
        consent=decision,
    )


async def _missing(engine: AsyncEngine, user_id: str) -> NoReturn:
    """Raise 410 for an erased user, 404 for one never registered."""
    async with queries.connection(engine) as conn:
        if await queries.erased(conn, [user_id]):
            raise Gone(f"user {user_id} was erased", field="user_id")
    raise NotFound(f"no user {user_id}", field="user_id")


async def disclose_by_law(
    engine: AsyncEngine, clock: Clock, *, user_id: str, body: LegalDisclosureIn, by: str
) -> dict[str, Any]:
    """A disclosure under a legal obligation: no consent asked, basis and reference recorded;
    the answer in the shape of :class:`DisclosureOut`."""
    fields = checked_fields(body.fields)
    at = await clock.now()
    reason = f"legal obligation: {body.legal_reference}"
    async with queries.transaction(engine) as conn:
        user = await queries.subject(conn, user_id)
        if user is not None:
            event = record(
                user_id=user_id,
                subject_country=user["country_of_residence"],
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
            await stage_raw(conn, [event])
    if user is None:
        await _missing(engine, user_id)
    return answer(event, data=values(fields, user))


def values(fields: frozenset[str], user: queries.Subject) -> dict[str, Any]:
    """The values of the fields asked for, from the row that holds both registration and
    profile (a profile's fields are None for a user without one)."""
    row = dict(user)
    return select_fields(fields, row, row)
