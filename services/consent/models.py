"""Tables of the consent schema, and the shapes of its HTTP API."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Column, DateTime, Identity, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _texts() -> Any:
    return Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))


class PurposeRow(SQLModel, table=True):
    __tablename__ = "purposes"

    code: str = Field(primary_key=True)
    title: str
    description: str
    legal_basis: str
    implied_by_registration: bool
    data_categories: list[str] = _texts()
    notice_text: str
    notice_version: str


class OrganisationRow(SQLModel, table=True):
    __tablename__ = "organisations"

    slug: str = Field(primary_key=True)
    name: str
    country: str | None = None
    kind: str
    standing_access: bool = False
    retired_at: datetime | None = _ts(nullable=True)


class GrantRow(SQLModel, table=True):
    __tablename__ = "access_grants"

    grant_id: UUID = Field(primary_key=True)
    organisation: str = Field(foreign_key="organisations.slug")
    data_categories: list[str] = _texts()
    valid_from: datetime = _ts()
    valid_until: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)
    created_by: str
    created_at: datetime = _ts()


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
    __tablename__ = "subjects"

    user_id: str = Field(primary_key=True)
    country: str | None = None
    restricted: bool = False
    objected: bool = False
    erased_at: datetime | None = _ts(nullable=True)


# --- HTTP API ---------------------------------------------------------------------

Country = PydanticField(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, upper case.")


class ConsentGrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = PydanticField(min_length=1, max_length=100)
    purpose: str = PydanticField(examples=["member_organisation_sharing"])
    organisation: str | None = PydanticField(default=None, description="Scope: one organisation.")
    country: str | None = PydanticField(
        default=None, pattern=r"^[A-Z]{2}$", description="Scope: organisations of a country."
    )
    data_categories: list[str] = PydanticField(
        default_factory=list, description="Empty: every category the purpose names."
    )
    notice_version: str = PydanticField(description="The notice text version the user saw.")
    valid_until: AwareDatetime | None = None


class WithdrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = PydanticField(default=None, max_length=500)


class GrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: str
    data_categories: list[str] = PydanticField(min_length=1)
    valid_from: AwareDatetime
    valid_until: AwareDatetime


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = PydanticField(pattern=r"^[a-z0-9][a-z0-9-]{1,80}$")
    name: str = PydanticField(min_length=1, max_length=300)
    country: str | None = PydanticField(default=None, pattern=r"^[A-Z]{2}$")
    kind: str = PydanticField(pattern=r"^(governmental|non_governmental|private|regional)$")
    standing_access: bool = False


class DecisionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str
    organisation: str
    purpose: str
    data_categories: list[str] = PydanticField(min_length=1)
    at: AwareDatetime | None = PydanticField(default=None, description="Default: now.")
    subject_country: str | None = PydanticField(default=None, pattern=r"^[A-Z]{2}$")


class DecisionOut(BaseModel):
    allow: bool
    reason: str
    consent_id: str | None = None
    consent_version: int | None = None
    grant_id: str | None = None
    legal_basis: str | None = None
    organisation_country: str | None = PydanticField(
        default=None, description="The organisation's country, when the directory knows it."
    )


class ConsentOut(BaseModel):
    consent_id: str
    version: int
    purpose: str
    active: bool
    granted_at: datetime
    withdrawn_at: datetime | None
    organisation: str | None
    country: str | None
    data_categories: list[str]
    notice_version: str
    valid_until: datetime | None


class HistoryOut(BaseModel):
    change_id: str
    consent_id: str
    version: int
    purpose: str
    action: str
    at: datetime
    organisation: str | None
    country: str | None
    data_categories: list[str]
    notice_version: str
    reason: str | None
