"""Tables of the registry schema, and the shapes of its HTTP API.

The registration and profile fields are written once, in :class:`RegistrationBase`
and :class:`ProfileBase` (the model ladder of the FastAPI template): the tables, what
the API takes and what it answers are built on them. Field names are the data
categories of the consent service's purposes, so what a member organisation asks for,
what a consent covers and what the registry stores are spelled the same way.
"""

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    HttpUrl,
    TypeAdapter,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Column, DateTime, Identity, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import AutoString, Field, SQLModel

from shared.events import Decision, LegalBasis
from shared.validation import CountryCode, LanguageTag, phone_number


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _text(most: int, **extra: Any) -> Any:
    """A text of 1 to ``most`` characters."""
    return PydanticField(min_length=1, max_length=most, **extra)


_URL = TypeAdapter(HttpUrl)


def _web_address(value: str) -> str:
    """An http(s) URL, in the normal form pydantic gives it."""
    return str(_URL.validate_python(value))


WebAddress = Annotated[
    str,
    AfterValidator(_web_address),
    PydanticField(max_length=2083, json_schema_extra={"format": "uri"}),
]
"""A URL kept as text: the tables and the answers hold it as the string it normalises to."""

Gender = Literal["female", "male", "non_binary", "other", "prefer_not_to_say"]


# --- The fields, once -------------------------------------------------------------


class RegistrationBase(SQLModel):
    """What registration holds: the first policy's required fields, then the optional ones."""

    full_name: Annotated[str, _text(200)]
    email_address: EmailStr
    country_of_residence: CountryCode
    company_name: Annotated[str, _text(200)]
    company_country: CountryCode
    company_registration_number: Annotated[str, _text(100)]
    business_support_network: Annotated[
        str, _text(200, description="The local business-support network.")
    ]
    referral_source: Annotated[str, _text(200, description="How the user heard of the service.")]
    personal_address: Annotated[str | None, _text(500)] = None
    phone_number: Annotated[
        str | None,
        PydanticField(
            description="International (+63 ...) or national in the country of residence.",
            examples=["+63 2 8123 4567"],
        ),
    ] = None
    organisation_type: Annotated[str | None, _text(100)] = None
    tax_number: Annotated[str | None, _text(50)] = None
    number_of_employees: Annotated[int | None, PydanticField(ge=0, le=10_000_000)] = None
    language: LanguageTag = "en"


class ProfileBase(SQLModel):
    """A service-provider profile; the first policy makes every field required."""

    contact_person_full_name: Annotated[str, _text(200)]
    contact_person_gender: Gender = Field(sa_type=AutoString)
    contact_person_email: EmailStr
    contact_person_phone: Annotated[str, PydanticField(examples=["+66 2 123 4567"])]
    service_name: Annotated[str, _text(200)]
    service_type: Annotated[str, _text(100)]
    service_description: Annotated[str, _text(5000)] = Field(sa_type=Text)
    organisation_name: Annotated[str, _text(200)]
    organisation_email: EmailStr
    organisation_phone: str
    organisation_logo: WebAddress = Field(description="Where the logo image is served.")
    company_registration_country: CountryCode


# --- Tables -----------------------------------------------------------------------


class UserRow(RegistrationBase, table=True):
    """A registered user: the registration fields, and their restriction or objection."""

    __tablename__ = "users"

    user_id: str = Field(primary_key=True)
    restricted: bool = False
    objected: bool = False
    restriction_reason: str | None = None
    registered_at: datetime = _ts()
    updated_at: datetime = _ts()


class ProfileRow(ProfileBase, table=True):
    """A service-provider profile; public while ``published_at`` is set."""

    __tablename__ = "profiles"

    profile_id: UUID = Field(primary_key=True)
    user_id: str = Field(unique=True, foreign_key="users.user_id")
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


# --- HTTP API: what it takes ------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters other than tab and newlines: refused in every text field."""

FieldName = Annotated[str, PydanticField(max_length=100)]
"""A field a caller names; the registry's longest is far shorter."""


class _Input(SQLModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)  # type: ignore[assignment]

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


class RegistrationIn(_Input, RegistrationBase):
    """What registering asks for: the first policy's required and optional fields."""

    _phone = field_validator("phone_number")(_phone_in_country_of_residence)


def _all_optional(model: type[BaseModel]) -> dict[str, Any]:
    """The fields of ``model``, each optional (default None) and validated as before."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        kind: Any = info.annotation
        if info.metadata:  # the constraints stay on the value, beside None
            kind = Annotated[(kind, *info.metadata)]
        doc = PydanticField(default=None, description=info.description, examples=info.examples)
        fields[name] = (kind | None, doc)
    return fields


if TYPE_CHECKING:  # type checkers see an input model; its fields are RegistrationIn's
    RegistrationUpdate = _Input
else:
    RegistrationUpdate = create_model(
        "RegistrationUpdate",
        __base__=RegistrationIn,
        __doc__="Rectification: any registration field, each validated as at registration.",
        **_all_optional(RegistrationBase),
    )


class ProfileIn(_Input, ProfileBase):
    """A service-provider profile as its owner writes it."""

    @field_validator("contact_person_phone", "organisation_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return phone_number(value)


class RestrictionIn(_Input):
    """Restrict processing or object to it, or lift either."""

    restricted: bool = PydanticField(description="Restrict processing (GDPR art. 18).")
    objected: bool = PydanticField(description="Object to processing (GDPR art. 21).")
    reason: str | None = PydanticField(default=None, max_length=1000)


class LegalDisclosureIn(_Input):
    """A disclosure the law compels: court order, subpoena, a regulator's request."""

    organisation: str = _text(200, description="The recipient, e.g. a court or agency.")
    organisation_country: CountryCode | None = None
    fields: list[FieldName] = PydanticField(min_length=1, max_length=100)
    legal_reference: str = PydanticField(
        min_length=3, max_length=500, description="The order's or request's reference."
    )
    actor: str | None = PydanticField(
        default=None, max_length=200, description="Who receives it inside the organisation."
    )


# --- HTTP API: what it answers ----------------------------------------------------


class UserOut(RegistrationBase):
    """Everything registration holds about a user."""

    user_id: str
    registered_at: datetime
    updated_at: datetime


class PublicProfile(ProfileBase):
    """What anyone may see of a published profile: its fields, nothing of registration."""

    profile_id: UUID
    published_at: datetime


class ProfileOut(PublicProfile):
    """The owner's view of their profile, published or not."""

    published_at: datetime | None  # type: ignore[assignment]
    published: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ProfileRow) -> Self:
        """The owner's view of ``row``."""
        return cls.model_validate({**row.model_dump(), "published": row.published_at is not None})


class RestrictionOut(BaseModel):
    """Whether processing is restricted or objected to, and why."""

    restricted: bool
    objected: bool
    reason: str | None


class DecisionGrounds(BaseModel):
    """What a decision rests on: the reason, and the consent and grant that decided it."""

    model_config = ConfigDict(frozen=True)

    reason: str
    consent_id: str | None = None
    consent_version: int | None = None
    grant_id: str | None = None


class ConsentDecision(DecisionGrounds):
    """The consent service's answer to ``POST /decisions``, as the registry reads it."""

    allow: bool
    legal_basis: str | None = None
    organisation_country: str | None = None


class DecisionOut(DecisionGrounds):
    """What the consent service answered, as the registry recorded it."""

    decision: Decision
    legal_basis: LegalBasis | None = None


class DisclosureOut(BaseModel):
    """Data disclosed to an organisation, with the id of the event that records it."""

    disclosure_id: UUID = PydanticField(description="The event id of the data.accessed record.")
    user_id: str
    organisation: str
    purpose: str
    data: dict[str, Any]
    decision: DecisionOut
    accessed_at: datetime


class ErasureOut(BaseModel):
    """What erasure removed."""

    user_id: str
    erased_at: datetime
    profile_unpublished: bool


EXPORT_FORMAT = "privacy-events.registry-export"
EXPORT_VERSION = 1


class VisibilityConsentOut(BaseModel):
    """A visibility consent as the registry knows it."""

    consent_id: str
    version: int
    active: bool
    valid_until: datetime | None = None


class RightsRequestOut(BaseModel):
    """One exercise of a right, as logged."""

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
    """A page of published profiles."""

    items: list[PublicProfile]
    next_cursor: str | None = PydanticField(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )
