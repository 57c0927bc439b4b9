"""registry: generated from the service's OpenAPI document; do not edit.

Regenerate with ``python -m devtools.openapi_models`` (``make models``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AnyUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    RootModel,
)


class Status(StrEnum):
    not_found = "not_found"
    erased = "erased"


class BatchMissing(BaseModel):
    """
    A user the consent service would allow (standing access) who is not registered.
    """

    status: Annotated[Status, Field(title="Status")]
    user_id: Annotated[str, Field(title="User Id")]


class FieldModel(RootModel[str]):
    root: Annotated[str, Field(max_length=100)]


class UserId(RootModel[str]):
    root: Annotated[str, Field(pattern="^[A-Za-z0-9._:@-]{1,100}$")]


class BatchReadIn(BaseModel):
    """
    Which users, which fields, for which purpose.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    fields: Annotated[
        list[FieldModel],
        Field(
            examples=[["full_name", "country_of_residence"]],
            max_length=100,
            min_length=1,
            title="Fields",
        ),
    ]
    purpose: Annotated[
        str,
        Field(
            examples=["aggregate_admin_reporting"],
            pattern="^[a-z0-9_]{1,80}$",
            title="Purpose",
        ),
    ]
    user_ids: Annotated[
        list[UserId],
        Field(
            description="1 to 500 users, each named once.",
            max_length=500,
            min_length=1,
            title="User Ids",
        ),
    ]


class BatchRefusal(BaseModel):
    """
    A user whose data was not disclosed; the refusal is recorded under ``disclosure_id``.
    """

    disclosure_id: Annotated[UUID, Field(title="Disclosure Id")]
    reason: Annotated[str, Field(title="Reason")]
    unavailable: Annotated[
        bool | None,
        Field(
            description="The consent service gave no decision; try this user again.",
            title="Unavailable",
        ),
    ] = False
    user_id: Annotated[str, Field(title="User Id")]


class Decision(StrEnum):
    allow = "allow"
    deny = "deny"


class ErasureOut(BaseModel):
    """
    What erasure removed.
    """

    erased_at: Annotated[AwareDatetime, Field(title="Erased At")]
    profile_unpublished: Annotated[bool, Field(title="Profile Unpublished")]
    user_id: Annotated[str, Field(title="User Id")]


class LegalBasis(StrEnum):
    consent = "consent"
    contract = "contract"
    legal_obligation = "legal_obligation"
    legitimate_interest = "legitimate_interest"
    vital_interest = "vital_interest"
    public_task = "public_task"


class Actor(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="Who receives it inside the organisation.",
            max_length=200,
            title="Actor",
        ),
    ]


class LegalDisclosureIn(BaseModel):
    """
    A disclosure the law compels: court order, subpoena, a regulator's request.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    actor: Annotated[
        Actor | None,
        Field(description="Who receives it inside the organisation.", title="Actor"),
    ] = None
    fields: Annotated[list[FieldModel], Field(max_length=100, min_length=1, title="Fields")]
    legal_reference: Annotated[
        str,
        Field(
            description="The order's or request's reference.",
            max_length=500,
            min_length=3,
            title="Legal Reference",
        ),
    ]
    organisation: Annotated[
        str,
        Field(
            description="The recipient, e.g. a court or agency.",
            max_length=200,
            min_length=1,
            title="Organisation",
        ),
    ]
    organisation_country: Annotated[str | None, Field(title="Organisation Country")] = None


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


class ContactPersonGender(StrEnum):
    female = "female"
    male = "male"
    non_binary = "non_binary"
    other = "other"
    prefer_not_to_say = "prefer_not_to_say"


class ProfileIn(BaseModel):
    """
    A service-provider profile as its owner writes it.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    company_registration_country: Annotated[
        str,
        Field(
            description="ISO 3166-1 alpha-2 country code.",
            examples=["PH"],
            title="Company Registration Country",
        ),
    ]
    contact_person_email: Annotated[EmailStr, Field(title="Contact Person Email")]
    contact_person_full_name: Annotated[
        str, Field(max_length=200, min_length=1, title="Contact Person Full Name")
    ]
    contact_person_gender: Annotated[ContactPersonGender, Field(title="Contact Person Gender")]
    contact_person_phone: Annotated[
        str, Field(examples=["+66 2 123 4567"], title="Contact Person Phone")
    ]
    organisation_email: Annotated[EmailStr, Field(title="Organisation Email")]
    organisation_logo: Annotated[
        AnyUrl,
        Field(description="Where the logo image is served.", title="Organisation Logo"),
    ]
    organisation_name: Annotated[
        str, Field(max_length=200, min_length=1, title="Organisation Name")
    ]
    organisation_phone: Annotated[str, Field(title="Organisation Phone")]
    service_description: Annotated[
        str, Field(max_length=5000, min_length=1, title="Service Description")
    ]
    service_name: Annotated[str, Field(max_length=200, min_length=1, title="Service Name")]
    service_type: Annotated[str, Field(max_length=100, min_length=1, title="Service Type")]


class ProfileOut(BaseModel):
    """
    The owner's view of their profile, published or not.
    """

    company_registration_country: Annotated[
        str,
        Field(
            description="ISO 3166-1 alpha-2 country code.",
            examples=["PH"],
            title="Company Registration Country",
        ),
    ]
    contact_person_email: Annotated[EmailStr, Field(title="Contact Person Email")]
    contact_person_full_name: Annotated[
        str, Field(max_length=200, min_length=1, title="Contact Person Full Name")
    ]
    contact_person_gender: Annotated[ContactPersonGender, Field(title="Contact Person Gender")]
    contact_person_phone: Annotated[
        str, Field(examples=["+66 2 123 4567"], title="Contact Person Phone")
    ]
    created_at: Annotated[AwareDatetime, Field(title="Created At")]
    organisation_email: Annotated[EmailStr, Field(title="Organisation Email")]
    organisation_logo: Annotated[
        AnyUrl,
        Field(description="Where the logo image is served.", title="Organisation Logo"),
    ]
    organisation_name: Annotated[
        str, Field(max_length=200, min_length=1, title="Organisation Name")
    ]
    organisation_phone: Annotated[str, Field(title="Organisation Phone")]
    profile_id: Annotated[UUID, Field(title="Profile Id")]
    published: Annotated[bool, Field(title="Published")]
    published_at: Annotated[AwareDatetime | None, Field(title="Published At")]
    service_description: Annotated[
        str, Field(max_length=5000, min_length=1, title="Service Description")
    ]
    service_name: Annotated[str, Field(max_length=200, min_length=1, title="Service Name")]
    service_type: Annotated[str, Field(max_length=100, min_length=1, title="Service Type")]
    updated_at: Annotated[AwareDatetime, Field(title="Updated At")]


class PublicProfile(BaseModel):
    """
    What anyone may see of a published profile: its fields, nothing of registration.
    """

    company_registration_country: Annotated[
        str,
        Field(
            description="ISO 3166-1 alpha-2 country code.",
            examples=["PH"],
            title="Company Registration Country",
        ),
    ]
    contact_person_email: Annotated[EmailStr, Field(title="Contact Person Email")]
    contact_person_full_name: Annotated[
        str, Field(max_length=200, min_length=1, title="Contact Person Full Name")
    ]
    contact_person_gender: Annotated[ContactPersonGender, Field(title="Contact Person Gender")]
    contact_person_phone: Annotated[
        str, Field(examples=["+66 2 123 4567"], title="Contact Person Phone")
    ]
    organisation_email: Annotated[EmailStr, Field(title="Organisation Email")]
    organisation_logo: Annotated[
        AnyUrl,
        Field(description="Where the logo image is served.", title="Organisation Logo"),
    ]
    organisation_name: Annotated[
        str, Field(max_length=200, min_length=1, title="Organisation Name")
    ]
    organisation_phone: Annotated[str, Field(title="Organisation Phone")]
    profile_id: Annotated[UUID, Field(title="Profile Id")]
    published_at: Annotated[AwareDatetime, Field(title="Published At")]
    service_description: Annotated[
        str, Field(max_length=5000, min_length=1, title="Service Description")
    ]
    service_name: Annotated[str, Field(max_length=200, min_length=1, title="Service Name")]
    service_type: Annotated[str, Field(max_length=100, min_length=1, title="Service Type")]


class PublicProfilePage(BaseModel):
    """
    A page of published profiles.
    """

    items: Annotated[list[PublicProfile], Field(title="Items")]
    next_cursor: Annotated[
        str | None,
        Field(
            description="Pass as ``cursor`` for the next page; null on the last page.",
            title="Next Cursor",
        ),
    ]


class NumberOfEmployees(RootModel[int]):
    root: Annotated[int, Field(ge=0, le=10000000, title="Number Of Employees")]


class OrganisationType(RootModel[str]):
    root: Annotated[str, Field(max_length=100, min_length=1, title="Organisation Type")]


class PersonalAddress(RootModel[str]):
    root: Annotated[str, Field(max_length=500, min_length=1, title="Personal Address")]


class TaxNumber(RootModel[str]):
    root: Annotated[str, Field(max_length=50, min_length=1, title="Tax Number")]


class RegistrationIn(BaseModel):
    """
    What registering asks for: the first policy's required and optional fields.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    business_support_network: Annotated[
        str,
        Field(
            description="The local business-support network.",
            max_length=200,
            min_length=1,
            title="Business Support Network",
        ),
    ]
    company_country: Annotated[
        str,
        Field(
            description="ISO 3166-1 alpha-2 country code.",
            examples=["PH"],
            title="Company Country",
        ),
    ]
    company_name: Annotated[str, Field(max_length=200, min_length=1, title="Company Name")]
    company_registration_number: Annotated[
        str, Field(max_length=100, min_length=1, title="Company Registration Number")
    ]
    country_of_residence: Annotated[
        str,
        Field(
            description="ISO 3166-1 alpha-2 country code.",
            examples=["PH"],
            title="Country Of Residence",
        ),
    ]
    email_address: Annotated[EmailStr, Field(title="Email Address")]
    full_name: Annotated[str, Field(max_length=200, min_length=1, title="Full Name")]
    language: Annotated[
        str | None,
        Field(
            description="BCP 47 language tag.",
            examples=["en"],
            max_length=35,
            title="Language",
        ),
    ] = "en"
    number_of_employees: Annotated[NumberOfEmployees | None, Field(title="Number Of Employees")] = (
        None
    )
    organisation_type: Annotated[OrganisationType | None, Field(title="Organisation Type")] = None
    personal_address: Annotated[PersonalAddress | None, Field(title="Personal Address")] = None
    phone_number: Annotated[
        str | None,
        Field(
            description="International (+63 ...) or national in the country of residence.",
            examples=["+63 2 8123 4567"],
            title="Phone Number",
        ),
    ] = None
    referral_source: Annotated[
        str,
        Field(
            description="How the user heard of the service.",
            max_length=200,
            min_length=1,
            title="Referral Source",
        ),
    ]
    tax_number: Annotated[TaxNumber | None, Field(title="Tax Number")] = None


class BusinessSupportNetwork(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="The local business-support network.",
            max_length=200,
            min_length=1,
            title="Business Support Network",
        ),
    ]


class CompanyName(RootModel[str]):
    root: Annotated[str, Field(max_length=200, min_length=1, title="Company Name")]


class CompanyRegistrationNumber(RootModel[str]):
    root: Annotated[str, Field(max_length=100, min_length=1, title="Company Registration Number")]


class FullName(RootModel[str]):
    root: Annotated[str, Field(max_length=200, min_length=1, title="Full Name")]


class Language(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="BCP 47 language tag.",
            examples=["en"],
            max_length=35,
            title="Language",
        ),
    ]


class ReferralSource(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="How the user heard of the service.",
            max_length=200,
            min_length=1,
            title="Referral Source",
        ),
    ]


class RegistrationUpdate(BaseModel):
    """
    Rectification: any registration field, each validated as at registration.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    business_support_network: Annotated[
        BusinessSupportNetwork | None,
        Field(
            description="The local business-support network.",
            title="Business Support Network",
        ),
    ] = None
    company_country: Annotated[
        str | None,
        Field(
            description="ISO 3166-1 alpha-2 country code.",
            examples=["PH"],
            title="Company Country",
        ),
    ] = None
    company_name: Annotated[CompanyName | None, Field(title="Company Name")] = None
    company_registration_number: Annotated[
        CompanyRegistrationNumber | None, Field(title="Company Registration Number")
    ] = None
    country_of_residence: Annotated[
        str | None,
        Field(
            description="ISO 3166-1 alpha-2 country code.",
            examples=["PH"],
            title="Country Of Residence",
        ),
    ] = None
    email_address: Annotated[EmailStr | None, Field(title="Email Address")] = None
    full_name: Annotated[FullName | None, Field(title="Full Name")] = None
    language: Annotated[
        Language | None,
        Field(description="BCP 47 language tag.", examples=["en"], title="Language"),
    ] = None
    number_of_employees: Annotated[NumberOfEmployees | None, Field(title="Number Of Employees")] = (
        None
    )
    organisation_type: Annotated[OrganisationType | None, Field(title="Organisation Type")] = None
    personal_address: Annotated[PersonalAddress | None, Field(title="Personal Address")] = None
    phone_number: Annotated[
        str | None,
        Field(
            description="International (+63 ...) or national in the country of residence.",
            examples=["+63 2 8123 4567"],
            title="Phone Number",
        ),
    ] = None
    referral_source: Annotated[
        ReferralSource | None,
        Field(description="How the user heard of the service.", title="Referral Source"),
    ] = None
    tax_number: Annotated[TaxNumber | None, Field(title="Tax Number")] = None


class Reason(RootModel[str]):
    root: Annotated[str, Field(max_length=1000, title="Reason")]


class RestrictionIn(BaseModel):
    """
    Restrict processing or object to it, or lift either.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    objected: Annotated[
        bool,
        Field(description="Object to processing (GDPR art. 21).", title="Objected"),
    ]
    reason: Annotated[Reason | None, Field(title="Reason")] = None
    restricted: Annotated[
        bool,
        Field(description="Restrict processing (GDPR art. 18).", title="Restricted"),
    ]


class RestrictionOut(BaseModel):
    """
    Whether processing is restricted or objected to, and why.
    """

    objected: Annotated[bool, Field(title="Objected")]
    reason: Annotated[str | None, Field(title="Reason")]
    restricted: Annotated[bool, Field(title="Restricted")]


class RightsRequestOut(BaseModel):
    """
    One exercise of a right, as logged.
    """

    at: Annotated[AwareDatetime, Field(title="At")]
    fields: Annotated[
        list[str],
        Field(description="Names of the fields concerned, never values.", title="Fields"),
    ]
    kind: Annotated[
        str,
        Field(examples=["access", "export", "rectification", "restriction"], title="Kind"),
    ]
    requested_by: Annotated[str, Field(title="Requested By")]


class UserOut(BaseModel):
    """
    Everything registration holds about a user.
    """

    business_support_network: Annotated[
        str,
        Field(
            description="The local business-support network.",
            max_length=200,
            min_length=1,
            title="Business Support Network",
        ),
    ]
    company_country: Annotated[
        str,
        Field(
            description="ISO 3166-1 alpha-2 country code.",
            examples=["PH"],
            title="Company Country",
        ),
    ]
    company_name: Annotated[str, Field(max_length=200, min_length=1, title="Company Name")]
    company_registration_number: Annotated[
        str, Field(max_length=100, min_length=1, title="Company Registration Number")
    ]
    country_of_residence: Annotated[
        str,
        Field(
            description="ISO 3166-1 alpha-2 country code.",
            examples=["PH"],
            title="Country Of Residence",
        ),
    ]
    email_address: Annotated[EmailStr, Field(title="Email Address")]
    full_name: Annotated[str, Field(max_length=200, min_length=1, title="Full Name")]
    language: Annotated[
        str | None,
        Field(
            description="BCP 47 language tag.",
            examples=["en"],
            pattern="^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
            title="Language",
        ),
    ] = "en"
    number_of_employees: Annotated[NumberOfEmployees | None, Field(title="Number Of Employees")] = (
        None
    )
    organisation_type: Annotated[OrganisationType | None, Field(title="Organisation Type")] = None
    personal_address: Annotated[PersonalAddress | None, Field(title="Personal Address")] = None
    phone_number: Annotated[
        str | None,
        Field(
            description="International (+63 ...) or national in the country of residence.",
            examples=["+63 2 8123 4567"],
            title="Phone Number",
        ),
    ] = None
    referral_source: Annotated[
        str,
        Field(
            description="How the user heard of the service.",
            max_length=200,
            min_length=1,
            title="Referral Source",
        ),
    ]
    registered_at: Annotated[AwareDatetime, Field(title="Registered At")]
    tax_number: Annotated[TaxNumber | None, Field(title="Tax Number")] = None
    updated_at: Annotated[AwareDatetime, Field(title="Updated At")]
    user_id: Annotated[str, Field(title="User Id")]


class VisibilityConsentOut(BaseModel):
    """
    A visibility consent as the registry knows it.
    """

    active: Annotated[bool, Field(title="Active")]
    consent_id: Annotated[str, Field(title="Consent Id")]
    valid_until: Annotated[AwareDatetime | None, Field(title="Valid Until")] = None
    version: Annotated[int, Field(title="Version")]


class DecisionOut(BaseModel):
    """
    What the consent service answered, as the registry recorded it.
    """

    consent_id: Annotated[str | None, Field(title="Consent Id")] = None
    consent_version: Annotated[int | None, Field(title="Consent Version")] = None
    decision: Decision
    grant_id: Annotated[str | None, Field(title="Grant Id")] = None
    legal_basis: LegalBasis | None = None
    reason: Annotated[str, Field(title="Reason")]


class DisclosureOut(BaseModel):
    """
    Data disclosed to an organisation, with the id of the event that records it.
    """

    accessed_at: Annotated[AwareDatetime, Field(title="Accessed At")]
    data: Annotated[dict[str, Any], Field(title="Data")]
    decision: DecisionOut
    disclosure_id: Annotated[
        UUID,
        Field(
            description="The event id of the data.accessed record.",
            title="Disclosure Id",
        ),
    ]
    organisation: Annotated[str, Field(title="Organisation")]
    purpose: Annotated[str, Field(title="Purpose")]
    user_id: Annotated[str, Field(title="User Id")]


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


class ExportDocument(BaseModel):
    """
    Everything the registry holds about one user (docs/export-format.md).
    """

    exported_at: Annotated[AwareDatetime, Field(title="Exported At")]
    format: Annotated[str, Field(examples=["privacy-events.registry-export"], title="Format")]
    format_version: Annotated[int, Field(examples=[1], title="Format Version")]
    profile: ProfileOut | None
    public_visibility_consents: Annotated[
        list[VisibilityConsentOut], Field(title="Public Visibility Consents")
    ]
    restriction: RestrictionOut
    rights_requests: Annotated[list[RightsRequestOut], Field(title="Rights Requests")]
    user: UserOut


class BatchReadOut(BaseModel):
    """
    Each user's outcome: disclosed (with its record), refused (recorded), or missing.
    """

    accessed_at: Annotated[AwareDatetime, Field(title="Accessed At")]
    disclosed: Annotated[list[DisclosureOut], Field(title="Disclosed")]
    missing: Annotated[list[BatchMissing], Field(title="Missing")]
    organisation: Annotated[str, Field(title="Organisation")]
    purpose: Annotated[str, Field(title="Purpose")]
    refused: Annotated[list[BatchRefusal], Field(title="Refused")]
