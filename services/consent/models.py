"""Tables of the consent schema, and the shapes of its HTTP API.

A table and the API's view of it share one base (the model ladder of the FastAPI
template), so a field is written once.
"""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Column, DateTime, Identity, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from services.consent.domain import Decision
from shared.validation import Instant


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _texts() -> Any:
    return Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))


Name = Annotated[str, PydanticField(min_length=1, max_length=100)]
"""A code, slug, category or id from outside: the longest the directory holds is 56."""
PrivacyContact = Annotated[EmailStr, PydanticField(max_length=254)]
"""An email address (RFC 5321 allows at most 254 characters)."""
CountryCode = Annotated[
    str, PydanticField(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, upper case.")
]


class PurposeBase(SQLModel):
    """A purpose of processing, its legal basis and its current notice."""

    code: str = Field(primary_key=True)
    title: str
    description: str
    legal_basis: str
    implied_by_registration: bool
    data_categories: list[str] = _texts()
    notice_text: str
    notice_version: str


class PurposeRow(PurposeBase, table=True):
    """A purpose, as seeded from the policies."""

    __tablename__ = "purposes"


class PurposeOut(PurposeBase):
    """A purpose as the API lists it."""


class OrganisationBase(SQLModel):
    """A member organisation of the directory."""

    slug: Annotated[str, PydanticField(pattern=r"^[a-z0-9][a-z0-9-]{1,80}$")] = Field(
        primary_key=True
    )
    name: Annotated[str, PydanticField(min_length=1, max_length=300)]
    country: CountryCode | None = None
    kind: Annotated[
        str, PydanticField(pattern=r"^(governmental|non_governmental|private|regional)$")
    ]
    standing_access: bool = False
    privacy_contact: PrivacyContact | None = PydanticField(
        default=None,
        description="Where notices about a person's data go (GDPR Art. 19), if known.",
        examples=["privacy@ph-philexport.example"],
    )


class OrganisationRow(OrganisationBase, table=True):
    """An organisation of the directory; retired once ``retired_at`` is set."""

    __tablename__ = "organisations"

    privacy_contact: str | None = None
    retired_at: datetime | None = _ts(nullable=True)
    updated_at: datetime | None = _ts(nullable=True)
    """Stamped by the database at every change; orders the changes' events."""
    announced_at: datetime | None = _ts(nullable=True)
    """When ``organisation.registered`` was staged for it."""


class OrganisationCreate(OrganisationBase):
    """An organisation to add to the directory."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class OrganisationOut(OrganisationBase):
    """An organisation as the directory holds it."""

    retired_at: datetime | None = None


class OrganisationUpdate(BaseModel):
    """What an admin may change of an organisation: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, PydanticField(min_length=1, max_length=300)] | None = None
    privacy_contact: PrivacyContact | None = PydanticField(
        default=None, description="null removes it.", examples=["privacy@ph-philexport.example"]
    )


class GrantBase(SQLModel):
    """An organisation's access to some data categories for a period."""

    organisation: Name
    data_categories: Annotated[list[Name], PydanticField(min_length=1, max_length=100)]
    valid_from: Instant
    valid_until: Instant


class GrantRow(GrantBase, table=True):
    """An access grant, as recorded."""

    __tablename__ = "access_grants"

    grant_id: UUID = Field(primary_key=True)
    organisation: str = Field(foreign_key="organisations.slug")
    data_categories: list[str] = _texts()
    valid_from: datetime = _ts()
    valid_until: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)
    created_by: str
    created_at: datetime = _ts()


class GrantCreate(GrantBase):
    """A time-bound access grant to create."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class GrantOut(GrantBase):
    """An access grant as recorded."""

    grant_id: UUID
    revoked_at: datetime | None
    created_by: str
    created_at: datetime


class HistoryRow(SQLModel, table=True):
    """Append-only: the database refuses UPDATE and DELETE on it."""

    __tablename__ = "consent_history"

    change_id: UUID = Field(primary_key=True)
    seq: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), unique=True)
    )
    consent_id: UUID = Field(index=True)
    version: int
    user_id: str = Field(index=True)
    purpose: str
    action: str
    at: datetime = _ts()
    organisation: str | None = None
    country: str | None = None
    data_categories: list[str] = _texts()
    notice_version: str
    valid_until: datetime | None = _ts(nullable=True)
    reason: str | None = None
    receipt: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))


class SubjectRow(SQLModel, table=True):
    """What the service keeps of a user: country and restriction."""

    __tablename__ = "subjects"

    user_id: str = Field(primary_key=True)
    country: str | None = None
    restricted: bool = False
    objected: bool = False
    erased_at: datetime | None = _ts(nullable=True)


# --- HTTP API ---------------------------------------------------------------------


class ConsentGrantRequest(BaseModel):
    """A consent to record: a purpose, its scope and the notice the user saw."""

    model_config = ConfigDict(extra="forbid")

    user_id: Name
    purpose: Name = PydanticField(examples=["member_organisation_sharing"])
    organisation: Name | None = PydanticField(default=None, description="Scope: one organisation.")
    country: CountryCode | None = PydanticField(
        default=None, description="Scope: organisations of a country."
    )
    data_categories: list[Name] = PydanticField(
        default_factory=list,
        max_length=100,
        description="Empty: every category the purpose names.",
    )
    notice_version: Name = PydanticField(description="The notice text version the user saw.")
    valid_until: Instant | None = None


class WithdrawRequest(BaseModel):
    """Why the user withdraws, if they say."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = PydanticField(default=None, max_length=500)


class DecisionQuery(BaseModel):
    """May this organisation receive these categories of this user, for this purpose?"""

    model_config = ConfigDict(extra="forbid")

    user_id: Name
    organisation: Name
    purpose: Name
    data_categories: list[Name] = PydanticField(min_length=1, max_length=100)
    at: Instant | None = PydanticField(default=None, description="Default: now.")
    subject_country: CountryCode | None = None


class DecisionOut(Decision):
    """What the decision API answers: the domain's decision, as it stands."""


Categories = Annotated[list[str], BeforeValidator(sorted)]
"""Data categories in a stable order, whatever collection held them."""


class ConsentOut(BaseModel):
    """A consent as it stood at an instant."""

    model_config = ConfigDict(from_attributes=True)

    consent_id: str
    version: int
    purpose: str
    active: bool
    granted_at: datetime
    withdrawn_at: datetime | None
    organisation: str | None
    country: str | None
    data_categories: Categories
    notice_version: str
    valid_until: datetime | None


class HistoryOut(BaseModel):
    """One change of a consent's history."""

    model_config = ConfigDict(from_attributes=True)

    change_id: UUID
    consent_id: UUID
    version: int
    purpose: str
    action: str
    at: datetime
    organisation: str | None
    country: str | None
    data_categories: list[str]
    notice_version: str
    reason: str | None


class ReceiptController(BaseModel):
    """Who controls the personal data."""

    name: str


class ReceiptService(BaseModel):
    """What the consent covers."""

    purpose: str
    purpose_title: str
    pii_categories: list[str]
    organisations: list[str]
    country: str | None
    valid_until: str | None = PydanticField(description="ISO 8601, or null: until withdrawn.")


class Receipt(BaseModel):
    """A consent receipt after the Kantara Consent Receipt / ISO/IEC TS 27560 fields."""

    receipt_id: str
    version: str = PydanticField(examples=["KI-CR-v1.1.0"])
    jurisdiction: str
    consent_timestamp: str = PydanticField(description="ISO 8601.")
    collection_method: str
    pii_principal_id: str
    pii_controllers: list[ReceiptController]
    action: str = PydanticField(examples=["granted", "withdrawn"])
    consent_id: str
    consent_version: int
    services: list[ReceiptService]
    notice_version: str
    how_to_withdraw: str
