"""consent: generated from the service's OpenAPI document; do not edit.

Regenerate with ``python -m devtools.openapi_models`` (``make models``).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, RootModel


class Country(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="ISO 3166-1 alpha-2, upper case.",
            pattern="^[A-Z]{2}$",
            title="Country",
        ),
    ]


class DataCategory(RootModel[str]):
    root: Annotated[str, Field(max_length=100, min_length=1)]


class Organisation(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="Scope: one organisation.",
            max_length=100,
            min_length=1,
            title="Organisation",
        ),
    ]


class ConsentGrantRequest(BaseModel):
    """
    A consent to record: a purpose, its scope and the notice the user saw.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    country: Annotated[
        Country | None,
        Field(description="Scope: organisations of a country.", title="Country"),
    ] = None
    data_categories: Annotated[
        list[DataCategory] | None,
        Field(
            description="Empty: every category the purpose names.",
            max_length=100,
            title="Data Categories",
        ),
    ] = None
    notice_version: Annotated[
        str,
        Field(
            description="The notice text version the user saw.",
            max_length=100,
            min_length=1,
            title="Notice Version",
        ),
    ]
    organisation: Annotated[
        Organisation | None,
        Field(description="Scope: one organisation.", title="Organisation"),
    ] = None
    purpose: Annotated[
        str,
        Field(
            examples=["member_organisation_sharing"],
            max_length=100,
            min_length=1,
            title="Purpose",
        ),
    ]
    user_id: Annotated[str, Field(max_length=100, min_length=1, title="User Id")]
    valid_until: Annotated[AwareDatetime | None, Field(title="Valid Until")] = None


class ConsentOut(BaseModel):
    """
    A consent as it stood at an instant.
    """

    active: Annotated[bool, Field(title="Active")]
    consent_id: Annotated[str, Field(title="Consent Id")]
    country: Annotated[str | None, Field(title="Country")]
    data_categories: Annotated[list[str], Field(title="Data Categories")]
    granted_at: Annotated[AwareDatetime, Field(title="Granted At")]
    notice_version: Annotated[str, Field(title="Notice Version")]
    organisation: Annotated[str | None, Field(title="Organisation")]
    purpose: Annotated[str, Field(title="Purpose")]
    valid_until: Annotated[AwareDatetime | None, Field(title="Valid Until")]
    version: Annotated[int, Field(title="Version")]
    withdrawn_at: Annotated[AwareDatetime | None, Field(title="Withdrawn At")]


class DecisionOut(BaseModel):
    """
    What the decision API answers: the domain's decision, as it stands.
    """

    allow: Annotated[bool, Field(title="Allow")]
    consent_id: Annotated[str | None, Field(title="Consent Id")] = None
    consent_version: Annotated[int | None, Field(title="Consent Version")] = None
    grant_id: Annotated[str | None, Field(title="Grant Id")] = None
    legal_basis: Annotated[str | None, Field(title="Legal Basis")] = None
    organisation_country: Annotated[str | None, Field(title="Organisation Country")] = None
    reason: Annotated[str, Field(title="Reason")]


class GrantCreate(BaseModel):
    """
    A time-bound access grant to create.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    data_categories: Annotated[
        list[DataCategory], Field(max_length=100, min_length=1, title="Data Categories")
    ]
    organisation: Annotated[str, Field(max_length=100, min_length=1, title="Organisation")]
    valid_from: Annotated[
        AwareDatetime,
        Field(
            description="An instant with its offset (ISO 8601), read in UTC.",
            examples=["2026-11-20T10:00:00Z"],
            title="Valid From",
        ),
    ]
    valid_until: Annotated[
        AwareDatetime,
        Field(
            description="An instant with its offset (ISO 8601), read in UTC.",
            examples=["2026-11-20T10:00:00Z"],
            title="Valid Until",
        ),
    ]


class GrantOut(BaseModel):
    """
    An access grant as recorded.
    """

    created_at: Annotated[AwareDatetime, Field(title="Created At")]
    created_by: Annotated[str, Field(title="Created By")]
    data_categories: Annotated[
        list[DataCategory], Field(max_length=100, min_length=1, title="Data Categories")
    ]
    grant_id: Annotated[UUID, Field(title="Grant Id")]
    organisation: Annotated[str, Field(max_length=100, min_length=1, title="Organisation")]
    revoked_at: Annotated[AwareDatetime | None, Field(title="Revoked At")]
    valid_from: Annotated[
        AwareDatetime,
        Field(
            description="An instant with its offset (ISO 8601), read in UTC.",
            examples=["2026-11-20T10:00:00Z"],
            title="Valid From",
        ),
    ]
    valid_until: Annotated[
        AwareDatetime,
        Field(
            description="An instant with its offset (ISO 8601), read in UTC.",
            examples=["2026-11-20T10:00:00Z"],
            title="Valid Until",
        ),
    ]


class HistoryOut(BaseModel):
    """
    One change of a consent's history.
    """

    action: Annotated[str, Field(title="Action")]
    at: Annotated[AwareDatetime, Field(title="At")]
    change_id: Annotated[UUID, Field(title="Change Id")]
    consent_id: Annotated[UUID, Field(title="Consent Id")]
    country: Annotated[str | None, Field(title="Country")]
    data_categories: Annotated[list[str], Field(title="Data Categories")]
    notice_version: Annotated[str, Field(title="Notice Version")]
    organisation: Annotated[str | None, Field(title="Organisation")]
    purpose: Annotated[str, Field(title="Purpose")]
    reason: Annotated[str | None, Field(title="Reason")]
    version: Annotated[int, Field(title="Version")]


class PrivacyContact(RootModel[EmailStr]):
    root: Annotated[
        EmailStr,
        Field(
            description="Where notices about a person's data go (GDPR Art. 19), if known.",
            examples=["privacy@ph-philexport.example"],
            max_length=254,
            title="Privacy Contact",
        ),
    ]


class OrganisationCreate(BaseModel):
    """
    An organisation to add to the directory.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    country: Annotated[Country | None, Field(title="Country")] = None
    kind: Annotated[
        str,
        Field(pattern="^(governmental|non_governmental|private|regional)$", title="Kind"),
    ]
    name: Annotated[str, Field(max_length=300, min_length=1, title="Name")]
    privacy_contact: Annotated[
        PrivacyContact | None,
        Field(
            description="Where notices about a person's data go (GDPR Art. 19), if known.",
            examples=["privacy@ph-philexport.example"],
            title="Privacy Contact",
        ),
    ] = None
    slug: Annotated[str, Field(pattern="^[a-z0-9][a-z0-9-]{1,80}$", title="Slug")]
    standing_access: Annotated[bool | None, Field(title="Standing Access")] = False


class OrganisationOut(BaseModel):
    """
    An organisation as the directory holds it.
    """

    country: Annotated[Country | None, Field(title="Country")] = None
    kind: Annotated[
        str,
        Field(pattern="^(governmental|non_governmental|private|regional)$", title="Kind"),
    ]
    name: Annotated[str, Field(max_length=300, min_length=1, title="Name")]
    privacy_contact: Annotated[
        PrivacyContact | None,
        Field(
            description="Where notices about a person's data go (GDPR Art. 19), if known.",
            examples=["privacy@ph-philexport.example"],
            title="Privacy Contact",
        ),
    ] = None
    retired_at: Annotated[AwareDatetime | None, Field(title="Retired At")] = None
    slug: Annotated[str, Field(pattern="^[a-z0-9][a-z0-9-]{1,80}$", title="Slug")]
    standing_access: Annotated[bool | None, Field(title="Standing Access")] = False


class Name(RootModel[str]):
    root: Annotated[str, Field(max_length=300, min_length=1, title="Name")]


class PrivacyContact2(RootModel[EmailStr]):
    root: Annotated[
        EmailStr,
        Field(
            description="null removes it.",
            examples=["privacy@ph-philexport.example"],
            max_length=254,
            title="Privacy Contact",
        ),
    ]


class OrganisationUpdate(BaseModel):
    """
    What an admin may change of an organisation: only the fields given change.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    name: Annotated[Name | None, Field(title="Name")] = None
    privacy_contact: Annotated[
        PrivacyContact2 | None,
        Field(
            description="null removes it.",
            examples=["privacy@ph-philexport.example"],
            title="Privacy Contact",
        ),
    ] = None


class Problem(BaseModel):
    """
    One invalid field of a request.
    """

    field: Annotated[
        str,
        Field(
            description="Where: a body field by its dotted path, or query., path. or header. and the parameter's name.",
            examples=["country_of_residence", "query.limit"],
            title="Field",
        ),
    ]
    problem: Annotated[
        str,
        Field(
            description="What is wrong with it.",
            examples=["Field required"],
            title="Problem",
        ),
    ]
    type: Annotated[
        str,
        Field(
            description="A machine-readable kind of problem.",
            examples=["missing"],
            title="Type",
        ),
    ]


class PurposeOut(BaseModel):
    """
    A purpose as the API lists it.
    """

    code: Annotated[str, Field(title="Code")]
    data_categories: Annotated[list[str] | None, Field(title="Data Categories")] = None
    description: Annotated[str, Field(title="Description")]
    implied_by_registration: Annotated[bool, Field(title="Implied By Registration")]
    legal_basis: Annotated[str, Field(title="Legal Basis")]
    notice_text: Annotated[str, Field(title="Notice Text")]
    notice_version: Annotated[str, Field(title="Notice Version")]
    title: Annotated[str, Field(title="Title")]


class ReceiptController(BaseModel):
    """
    Who controls the personal data.
    """

    name: Annotated[str, Field(title="Name")]


class ReceiptService(BaseModel):
    """
    What the consent covers.
    """

    country: Annotated[str | None, Field(title="Country")]
    organisations: Annotated[list[str], Field(title="Organisations")]
    pii_categories: Annotated[list[str], Field(title="Pii Categories")]
    purpose: Annotated[str, Field(title="Purpose")]
    purpose_title: Annotated[str, Field(title="Purpose Title")]
    valid_until: Annotated[
        str | None,
        Field(description="ISO 8601, or null: until withdrawn.", title="Valid Until"),
    ]


class Reason(RootModel[str]):
    root: Annotated[str, Field(max_length=500, title="Reason")]


class WithdrawRequest(BaseModel):
    """
    Why the user withdraws, if they say.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    reason: Annotated[Reason | None, Field(title="Reason")] = None


class ErrorDetail(BaseModel):
    """
    What went wrong.
    """

    model_config = ConfigDict(
        extra="allow",
    )
    error: Annotated[
        str,
        Field(
            description="The kind of error.",
            examples=["InvalidRequest", "NotFound"],
            title="Error",
        ),
    ]
    field: Annotated[
        str | None, Field(description="The field at fault, if one is.", title="Field")
    ] = None
    message: Annotated[str, Field(description="What is wrong, in a sentence.", title="Message")]
    problems: Annotated[
        list[Problem] | None,
        Field(
            description="Every invalid field, for a request that did not validate.",
            title="Problems",
        ),
    ] = None


class ErrorResponse(BaseModel):
    """
    The body of every 4xx answer (and of a 503 when a dependency does not answer).
    """

    detail: ErrorDetail


class Receipt(BaseModel):
    """
    A consent receipt after the Kantara Consent Receipt / ISO/IEC TS 27560 fields.
    """

    action: Annotated[str, Field(examples=["granted", "withdrawn"], title="Action")]
    collection_method: Annotated[str, Field(title="Collection Method")]
    consent_id: Annotated[str, Field(title="Consent Id")]
    consent_timestamp: Annotated[str, Field(description="ISO 8601.", title="Consent Timestamp")]
    consent_version: Annotated[int, Field(title="Consent Version")]
    how_to_withdraw: Annotated[str, Field(title="How To Withdraw")]
    jurisdiction: Annotated[str, Field(title="Jurisdiction")]
    notice_version: Annotated[str, Field(title="Notice Version")]
    pii_controllers: Annotated[list[ReceiptController], Field(title="Pii Controllers")]
    pii_principal_id: Annotated[str, Field(title="Pii Principal Id")]
    receipt_id: Annotated[str, Field(title="Receipt Id")]
    services: Annotated[list[ReceiptService], Field(title="Services")]
    version: Annotated[str, Field(examples=["KI-CR-v1.1.0"], title="Version")]
