"""Events about the member-organisation directory and access grants, produced by consent.

Every change to the directory or to a grant is an event, so that every replica of the
consent service applies the same changes (any replica answers any decision) and other
services keep what they need of the directory (the notifier, an organisation's privacy
contact) without reading the consent service's schema. ``subject_id`` is the
organisation's slug: all changes to one organisation keep their order on one partition.
"""

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Envelope, Payload


class OrganisationPayload(Payload):
    """The organisation as it stands after the change: the whole entry, not a diff."""

    organisation: str = Field(description="The organisation's slug.", examples=["ph-dti"])
    name: str
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2, if any.")
    kind: str = Field(examples=["governmental"])
    standing_access: bool = Field(description="Receives data under a standing basis.")
    privacy_contact: str | None = Field(
        default=None,
        description="Where requests about personal data go (GDPR Art. 19 notices).",
        examples=["privacy@dti.example.ph"],
    )
    retired_at: datetime | None = None


class OrganisationRegistered(Envelope):
    """An organisation joined the directory (also emitted once for each seeded one)."""

    EVENT_TYPE: ClassVar[str] = "organisation.registered"
    payload: OrganisationPayload


class OrganisationUpdated(Envelope):
    """An organisation's entry changed (its privacy contact, for example)."""

    EVENT_TYPE: ClassVar[str] = "organisation.updated"
    payload: OrganisationPayload


class OrganisationRetired(Envelope):
    """An organisation left the directory; it receives nothing from now on."""

    EVENT_TYPE: ClassVar[str] = "organisation.retired"
    payload: OrganisationPayload


class AccessGrantPayload(Payload):
    """A time-bound access grant as it stands after the change."""

    grant_id: str
    organisation: str = Field(description="The organisation's slug.")
    data_categories: list[str]
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None = None
    created_by: str
    created_at: datetime


class AccessGrantCreated(Envelope):
    """An organisation was granted time-bound access to data categories."""

    EVENT_TYPE: ClassVar[str] = "access_grant.created"
    payload: AccessGrantPayload


class AccessGrantRevoked(Envelope):
    """A grant was revoked before its end; decisions stop relying on it."""

    EVENT_TYPE: ClassVar[str] = "access_grant.revoked"
    payload: AccessGrantPayload
