"""Events about users, produced by the registry."""

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Envelope, Payload


class UserRegisteredPayload(Payload):
    """Only what other services need to know about a new user."""

    user_id: str = Field(description="The registry's id for the user.")
    full_name: str = Field(description="For addressing notices to the user.", examples=["Ana Cruz"])
    email: str = Field(description="Where notices go.", examples=["ana@example.org"])
    country: str = Field(description="Country of residence, ISO 3166-1 alpha-2.", examples=["PH"])
    language: str = Field(default="en", description="Preferred language, BCP 47.", examples=["en"])


class UserRegistered(Envelope):
    """A person or company registered on the platform."""

    EVENT_TYPE: ClassVar[str] = "user.registered"
    payload: UserRegisteredPayload


class UserUpdatedPayload(Payload):
    """The fields that changed, with their new values (only contact-relevant ones)."""

    user_id: str
    changed_fields: list[str] = Field(description="Names of the fields that were rectified.")
    full_name: str | None = None
    email: str | None = None
    country: str | None = None
    language: str | None = None


class UserUpdated(Envelope):
    """A user rectified their data."""

    EVENT_TYPE: ClassVar[str] = "user.updated"
    payload: UserUpdatedPayload


class UserErasedPayload(Payload):
    """Erasure of a user's personal data; receivers must drop theirs."""

    user_id: str
    erased_at: datetime
    requested_by: str = Field(description="Who asked: 'subject' or 'admin'.", examples=["subject"])


class UserErased(Envelope):
    """A user's personal data was erased from the registry."""

    EVENT_TYPE: ClassVar[str] = "user.erased"
    payload: UserErasedPayload


class UserRestrictionChangedPayload(Payload):
    """The user restricted processing of, or objected to, their data (or lifted it)."""

    user_id: str
    restricted: bool = Field(description="Processing restricted (GDPR art. 18).")
    objected: bool = Field(description="The user objects to processing (GDPR art. 21).")
    reason: str | None = None


class UserRestrictionChanged(Envelope):
    """A user's restriction or objection changed."""

    EVENT_TYPE: ClassVar[str] = "user.restriction_changed"
    payload: UserRestrictionChangedPayload


class ProfilePublishedPayload(Payload):
    user_id: str
    profile_id: str
    service_name: str


class ProfilePublished(Envelope):
    """A service-provider profile became publicly visible."""

    EVENT_TYPE: ClassVar[str] = "profile.published"
    payload: ProfilePublishedPayload


class ProfileUnpublishedPayload(Payload):
    user_id: str
    profile_id: str
    reason: str = Field(examples=["consent_withdrawn", "user_request", "user_erased"])


class ProfileUnpublished(Envelope):
    """A service-provider profile stopped being publicly visible."""

    EVENT_TYPE: ClassVar[str] = "profile.unpublished"
    payload: ProfileUnpublishedPayload
