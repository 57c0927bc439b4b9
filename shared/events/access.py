"""``data.accessed``: the public contract for every disclosure of personal data."""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Envelope, Payload


class LegalBasis(StrEnum):
    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    LEGITIMATE_INTEREST = "legitimate_interest"
    VITAL_INTEREST = "vital_interest"
    PUBLIC_TASK = "public_task"


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class DataAccessedPayload(Payload):
    """Who saw which data of whom, when, why, and what allowed it."""

    organisation_id: str = Field(description="The member organisation that received the data.")
    organisation_country: str | None = Field(default=None, description="ISO 3166-1 alpha-2.")
    actor: str = Field(description="The person or system inside the organisation.")
    subject_id: str = Field(description="The data subject whose data was read.")
    subject_country: str | None = Field(default=None, description="ISO 3166-1 alpha-2.")
    fields: list[str] = Field(description="Data categories or fields disclosed.")
    purpose: str = Field(description="Purpose code, as the consent service names it.")
    legal_basis: LegalBasis
    legal_reference: str | None = Field(
        default=None, description="Court order or request reference, for legal obligations."
    )
    channel: str = Field(description="How it was disclosed.", examples=["registry_api", "export"])
    accessed_at: datetime
    decision: Decision = Field(description="allow, or deny for a refused attempt.")
    decision_reason: str | None = None
    consent_id: str | None = Field(default=None, description="The consent or grant that decided.")
    consent_version: int | None = None
    grant_id: str | None = Field(default=None, description="The access grant that decided.")


class DataAccessed(Envelope):
    """Personal data was disclosed to (or refused to) a member organisation."""

    EVENT_TYPE: ClassVar[str] = "data.accessed"
    payload: DataAccessedPayload
