"""Tables of the registry schema, and the shapes of its HTTP API.

Field names are the data categories of the consent service's purposes, so what a
member organisation asks for, what a consent covers and what the registry stores are
spelled the same way.
"""

import re
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    HttpUrl,
    ValidationInfo,
    field_validator,
)
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Column, DateTime, Identity, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from shared.events import Decision, LegalBasis
from shared.validation import CountryCode, LanguageTag, phone_number


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


# --- Tables -----------------------------------------------------------------------


class UserRow(SQLModel, table=True):
    """A registered user: the registration fields, and their restriction or objection."""

    __tablename__ = "users"

    user_id: str = Field(primary_key=True)
    full_name: str
    email_address: str
    country_of_residence: str
    company_name: str
    company_country: str
    company_registration_number: str
    business_support_network: str
    referral_source: str
    personal_address: str | None = None
    phone_number: str | None = None
    organisation_type: str | None = None
    tax_number: str | None = None
    number_of_employees: int | None = None
    language: str = "en"
    restricted: bool = False
    objected: bool = False
    restriction_reason: str | None = None
    registered_at: datetime = _ts()
    updated_at: datetime = _ts()


class ProfileRow(SQLModel, table=True):
    """A service-provider profile; public while ``published_at`` is set."""

    __tablename__ = "profiles"

    profile_id: UUID = Field(primary_key=True)
    user_id: str = Field(unique=True, foreign_key="users.user_id")
    contact_person_full_name: str
    contact_person_gender: str
    contact_person_email: str
    contact_person_phone: str
    service_name: str
    service_type: str
    service_description: str = Field(sa_column=Column(Text, nullable=False))
    organisation_name: str
    organisation_email: str
    organisation_phone: str
    organisation_logo: str
    company_registration_country: str
    published_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class VisibilityConsentRow(SQLModel, table=True):
    """The user's consents to public visibility, as the consent service announced them."""

    __tablename__ = "visibility_consents"

    consent_id: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    version: int
    active: bool
    valid_until: datetime | None = _ts(nullable=True)
    scoped: bool = Field(
        default=False, description="Limited to one organisation or country: not for publishing."
    )

    def in_force(self, at: datetime) -> bool:
        """Counts for publishing at ``at``: active, unscoped, not past its end."""
        return (
            self.active and not self.scoped and (self.valid_until is None or at < self.valid_until)
        )


class RightsRequestRow(SQLModel, table=True):
    """Each exercise of a data subject's right: kept after erasure, with no personal data."""

    __tablename__ = "rights_requests"

    request_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    user_id: str = Field(index=True)
    kind: str
    at: datetime = _ts()
    requested_by: str
    fields: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))


class ErasureRow(SQLModel, table=True):
    """The pseudonymous trace of an erased user: the id, when, and at whose request."""

    __tablename__ = "erasures"

    user_id: str = Field(primary_key=True)
    erased_at: datetime = _ts()
    requested_by: str


# --- HTTP API ---------------------------------------------------------------------

Text200 = PydanticField(min_length=1, max_length=200)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters other than tab and newlines: refused in every text field."""


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        if isinstance(value, str) and _CONTROL.search(value):
            raise ValueError("contains control characters")
        return value


def _phone_in_country_of_residence(
    cls: type[BaseModel], value: str | None, info: ValidationInfo
) -> str | None:
    """E.164; a national number is read in the country of residence given before it."""
    if value is None:
        return None
    return phone_number(value, info.data.get("country_of_residence"))


class RegistrationIn(_Input):
    """What registering asks for: the first policy's required and optional fields."""

    full_name: str = Text200
    email_address: EmailStr
    country_of_residence: CountryCode
    company_name: str = Text200
    company_country: CountryCode
    company_registration_number: str = PydanticField(min_length=1, max_length=100)
    business_support_network: str = PydanticField(
        min_length=1, max_length=200, description="The local business-support network."
    )
    referral_source: str = PydanticField(
        min_length=1, max_length=200, description="How the user heard of the service."
    )
    personal_address: str | None = PydanticField(default=None, min_length=1, max_length=500)
    phone_number: str | None = PydanticField(
        default=None,
        description="International (+63 ...) or national in the country of residence.",
        examples=["+63 2 8123 4567"],
    )
    organisation_type: str | None = PydanticField(default=None, min_length=1, max_length=100)
    tax_number: str | None = PydanticField(default=None, min_length=1, max_length=50)
    number_of_employees: int | None = PydanticField(default=None, ge=0, le=10_000_000)
    language: LanguageTag = "en"

    _phone = field_validator("phone_number")(_phone_in_country_of_residence)


class RegistrationUpdate(_Input):
    """Rectification: any registration field, each validated as at registration."""

    full_name: str | None = PydanticField(default=None, min_length=1, max_length=200)
    email_address: EmailStr | None = None
    country_of_residence: CountryCode | None = None
    company_name: str | None = PydanticField(default=None, min_length=1, max_length=200)
    company_country: CountryCode | None = None
    company_registration_number: str | None = PydanticField(
        default=None, min_length=1, max_length=100
    )
    business_support_network: str | None = PydanticField(default=None, min_length=1, max_length=200)
    referral_source: str | None = PydanticField(default=None, min_length=1, max_length=200)
    personal_address: str | None = PydanticField(default=None, min_length=1, max_length=500)
    phone_number: str | None = None
    organisation_type: str | None = PydanticField(default=None, min_length=1, max_length=100)
    tax_number: str | None = PydanticField(default=None, min_length=1, max_length=50)
    number_of_employees: int | None = PydanticField(default=None, ge=0, le=10_000_000)
    language: LanguageTag | None = None

    _phone = field_validator("phone_number")(_phone_in_country_of_residence)


class UserOut(BaseModel):
    """Everything registration holds about a user."""

    user_id: str
    full_name: str
    email_address: str
    country_of_residence: str
    company_name: str
    company_country: str
    company_registration_number: str
    business_support_network: str
    referral_source: str
    personal_address: str | None
    phone_number: str | None
    organisation_type: str | None
    tax_number: str | None
    number_of_employees: int | None
    language: str
    registered_at: datetime
    updated_at: datetime


Gender = Literal["female", "male", "non_binary", "other", "prefer_not_to_say"]


class ProfileIn(_Input):
    """A service-provider profile; the first policy makes every field required."""

    contact_person_full_name: str = Text200
    contact_person_gender: Gender
    contact_person_email: EmailStr
    contact_person_phone: str = PydanticField(examples=["+66 2 123 4567"])
    service_name: str = Text200
    service_type: str = PydanticField(min_length=1, max_length=100)
    service_description: str = PydanticField(min_length=1, max_length=5000)
    organisation_name: str = Text200
    organisation_email: EmailStr
    organisation_phone: str
    organisation_logo: HttpUrl = PydanticField(description="Where the logo image is served.")
    company_registration_country: CountryCode

    @field_validator("contact_person_phone", "organisation_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return phone_number(value)


class PublicProfile(BaseModel):
    """What anyone may see of a published profile: its fields, nothing of registration."""

    profile_id: UUID
    contact_person_full_name: str
    contact_person_gender: str
    contact_person_email: str
    contact_person_phone: str
    service_name: str
    service_type: str
    service_description: str
    organisation_name: str
    organisation_email: str
    organisation_phone: str
    organisation_logo: str
    company_registration_country: str
    published_at: datetime


class ProfileOut(PublicProfile):
    """The owner's view of their profile, published or not."""

    published_at: datetime | None  # type: ignore[assignment]
    published: bool
    created_at: datetime
    updated_at: datetime


class RestrictionIn(_Input):
    restricted: bool = PydanticField(description="Restrict processing (GDPR art. 18).")
    objected: bool = PydanticField(description="Object to processing (GDPR art. 21).")
    reason: str | None = PydanticField(default=None, max_length=1000)


class RestrictionOut(BaseModel):
    restricted: bool
    objected: bool
    reason: str | None


class DecisionOut(BaseModel):
    """What the consent service answered, as the registry recorded it."""

    decision: Decision
    reason: str
    legal_basis: LegalBasis | None = None
    consent_id: str | None = None
    consent_version: int | None = None
    grant_id: str | None = None


class DisclosureOut(BaseModel):
    """Data disclosed to an organisation, with the id of the event that records it."""

    disclosure_id: UUID = PydanticField(description="The event id of the data.accessed record.")
    user_id: str
    organisation: str
    purpose: str
    data: dict[str, Any]
    decision: DecisionOut
    accessed_at: datetime


class LegalDisclosureIn(_Input):
    """A disclosure the law compels: court order, subpoena, a regulator's request."""

    organisation: str = PydanticField(
        min_length=1, max_length=200, description="The recipient, e.g. a court or agency."
    )
    organisation_country: CountryCode | None = None
    fields: list[str] = PydanticField(min_length=1)
    legal_reference: str = PydanticField(
        min_length=3, max_length=500, description="The order's or request's reference."
    )
    actor: str | None = PydanticField(
        default=None, max_length=200, description="Who receives it inside the organisation."
    )


class ErasureOut(BaseModel):
    user_id: str
    erased_at: datetime
    profile_unpublished: bool


EXPORT_FORMAT = "privacy-events.registry-export"
EXPORT_VERSION = 1


class VisibilityConsentOut(BaseModel):
    consent_id: str
    version: int
    active: bool
    valid_until: datetime | None = None


class RightsRequestOut(BaseModel):
    kind: str = PydanticField(examples=["access", "export", "rectification", "restriction"])
    at: datetime
    requested_by: str
    fields: list[str] = PydanticField(description="Names of the fields concerned, never values.")


class ExportDocument(BaseModel):
    """Everything the registry holds about one user (docs/export-format.md)."""

    format: str = PydanticField(examples=[EXPORT_FORMAT])
    format_version: int = PydanticField(examples=[EXPORT_VERSION])
    exported_at: datetime
    user: UserOut
    profile: ProfileOut | None
    restriction: RestrictionOut
    public_visibility_consents: list[VisibilityConsentOut]
    rights_requests: list[RightsRequestOut]


class PublicProfilePage(BaseModel):
    items: list[PublicProfile]
    next_cursor: str | None = PydanticField(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )
