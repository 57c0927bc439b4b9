"""Reading many users at once, for a reporting job: each user decided and recorded alone.

A reporting job (the first policy's registration reports to the administrators of all
ten member states, purpose ``aggregate_admin_reporting``) reads as its organisation,
with that organisation's token, like any other read: one decision of the consent
service and one ``data.accessed`` event per user, a refusal recorded as much as a
disclosure. What a batch saves is the rest: one transaction holds every named user's
row FOR SHARE while the decisions are asked (concurrently), one statement stages every
event, one commit records them all before any data leaves, and the answer is encoded
once.
"""

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic import Field as PydanticField
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry import queries
from services.registry.clients import ConsentClient, ConsentUnavailable
from services.registry.disclosure import (
    PURPOSE_PATTERN,
    USER_ID_PATTERN,
    allowed,
    answer,
    checked_fields,
    denied,
    values,
)
from services.registry.domain import Restriction
from services.registry.exceptions import Unavailable
from services.registry.models import ConsentDecision, DisclosureOut, FieldName
from shared.clock import Clock
from shared.outbox import stage_raw

BATCH_LIMIT = 500
"""The most users one batch names: a report of more is read in several batches."""
CONCURRENT_DECISIONS = 32
"""Decisions asked of the consent service at once, per batch."""

UserId = Annotated[str, PydanticField(pattern=USER_ID_PATTERN)]


class BatchReadIn(BaseModel):
    """Which users, which fields, for which purpose."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = PydanticField(pattern=PURPOSE_PATTERN, examples=["aggregate_admin_reporting"])
    fields: list[FieldName] = PydanticField(
        min_length=1, max_length=100, examples=[["full_name", "country_of_residence"]]
    )
    user_ids: list[UserId] = PydanticField(
        min_length=1,
        max_length=BATCH_LIMIT,
        description=f"1 to {BATCH_LIMIT} users, each named once.",
    )

    @field_validator("user_ids")
    @classmethod
    def _each_user_once(cls, user_ids: list[str]) -> list[str]:
        if len(set(user_ids)) != len(user_ids):
            raise ValueError("name each user at most once")
        return user_ids


class BatchRefusal(BaseModel):
    """A user whose data was not disclosed; the refusal is recorded under ``disclosure_id``."""

    user_id: str
    disclosure_id: UUID
    reason: str
    unavailable: bool = PydanticField(
        default=False, description="The consent service gave no decision; try this user again."
    )


class BatchMissing(BaseModel):
    """A user the consent service would allow (standing access) who is not registered."""

    user_id: str
    status: Literal["not_found", "erased"]


class BatchReadOut(BaseModel):
    """Each user's outcome: disclosed (with its record), refused (recorded), or missing."""

    organisation: str
    purpose: str
    accessed_at: datetime
    disclosed: list[DisclosureOut]
    refused: list[BatchRefusal]
    missing: list[BatchMissing]


Outcome = ConsentDecision | ConsentUnavailable | str
"""A decision, the consent service's failure to give one, or a restriction's reason."""


async def disclose_many(
    engine: AsyncEngine,
    consent: ConsentClient,
    clock: Clock,
    *,
    organisation: str,
    actor: str,
    body: BatchReadIn,
) -> dict[str, Any]:
    """Each named user's fields, where the consent service allows; every decision recorded
    and committed before the answer (a :class:`BatchReadOut`) leaves; a 503 if the consent
    service decided none of them."""
    fields = checked_fields(body.fields)
    at = await clock.now()
    async with queries.transaction(engine) as conn:
        users = await queries.subjects(conn, body.user_ids)
        outcomes = await _decide_all(
            consent, users, body.user_ids, organisation, body.purpose, sorted(fields), at
        )
        disclosed: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        events = []
        absent: list[str] = []
        for user_id in body.user_ids:
            user, outcome = users.get(user_id), outcomes[user_id]
            common: dict[str, Any] = {
                "user_id": user_id,
                "subject_country": user["country_of_residence"] if user else None,
                "organisation": organisation,
                "actor": actor,
                "fields": fields,
                "purpose": body.purpose,
                "at": at,
            }
            if isinstance(outcome, ConsentDecision) and outcome.allow:
                if user is None:
                    absent.append(user_id)  # nothing disclosed, nothing to record
                    continue
                event = allowed(common, outcome)
                disclosed.append(answer(event, data=values(fields, user)))
            else:
                reason, unavailable = _refusal(outcome)
                decision = outcome if isinstance(outcome, ConsentDecision) else None
                event = denied(common, reason, decision)
                refused.append(
                    {
                        "user_id": user_id,
                        "disclosure_id": event.event_id,
                        "reason": reason,
                        "unavailable": unavailable,
                    }
                )
            events.append(event)
        if events:
            await stage_raw(conn, events)
        erased = await queries.erased(conn, absent) if absent else set()
    if refused and all(r["unavailable"] for r in refused) and not disclosed and not absent:
        raise Unavailable(f"no disclosure: {refused[0]['reason']}")
    return {
        "organisation": organisation,
        "purpose": body.purpose,
        "accessed_at": at,
        "disclosed": disclosed,
        "refused": refused,
        "missing": [
            {"user_id": u, "status": "erased" if u in erased else "not_found"} for u in absent
        ],
    }


def _refusal(outcome: Outcome) -> tuple[str, bool]:
    if isinstance(outcome, ConsentUnavailable):
        return f"no decision: {outcome}", True
    if isinstance(outcome, ConsentDecision):
        return outcome.reason, False
    return outcome, False


async def _decide_all(
    consent: ConsentClient,
    users: dict[str, queries.Subject],
    user_ids: list[str],
    organisation: str,
    purpose: str,
    categories: list[str],
    at: datetime,
) -> dict[str, Outcome]:
    """One decision per user, asked concurrently (a restricted user is refused without
    asking); an unknown user is asked about like any other, as on the single read."""
    bound = asyncio.Semaphore(CONCURRENT_DECISIONS)

    async def one(user_id: str) -> Outcome:
        user = users.get(user_id)
        if user is not None and (user["restricted"] or user["objected"]):
            return Restriction(user["restricted"], user["objected"]).reason()
        async with bound:
            try:
                return await consent.decide(
                    user_id=user_id,
                    organisation=organisation,
                    purpose=purpose,
                    data_categories=categories,
                    at=at,
                    subject_country=user["country_of_residence"] if user else None,
                )
            except ConsentUnavailable as exc:
                return exc

    decided = await asyncio.gather(*(one(u) for u in user_ids))
    return dict(zip(user_ids, decided, strict=True))
