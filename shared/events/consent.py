"""Events produced by the consent service."""

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Envelope, Payload


class ConsentChangedPayload(Payload):
    """One change of one consent; the consent service's history holds all of them."""

    consent_id: str
    version: int = Field(description="Increases with every change of this consent.")
    user_id: str
    purpose: str = Field(examples=["member_org_sharing"])
    # The scope and the end have no defaults: each "null" or "[]" widens the consent
    # (any organisation, any country, every category, no end), so a producer states it.
    organisation_id: str | None = Field(
        description="Scope: one organisation; null for any organisation."
    )
    country: str | None = Field(
        description="Scope: organisations of one country; null for any country."
    )
    data_categories: list[str] = Field(
        description="The data categories covered; empty for all those of the purpose."
    )
    notice_version: str = Field(description="The notice text version the user saw.")
    valid_from: datetime
    valid_until: datetime | None = Field(description="When it ends; null for no end.")
    reason: str | None = None


class ConsentGranted(Envelope):
    """A user granted consent for a purpose."""

    EVENT_TYPE: ClassVar[str] = "consent.granted"
    payload: ConsentChangedPayload


class ConsentWithdrawn(Envelope):
    """A user withdrew consent; future processing for that purpose stops."""

    EVENT_TYPE: ClassVar[str] = "consent.withdrawn"
    payload: ConsentChangedPayload
