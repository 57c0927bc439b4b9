"""audit: generated from the service's OpenAPI document; do not edit.

Regenerate with ``python -m devtools.openapi_models`` (``make models``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Answer(StrEnum):
    confirmed = "confirmed"
    kept = "kept"


class ConsistencyProof(BaseModel):
    """
    That the signed tree of ``first`` entries is a prefix of that of ``second``.
    """

    consistency_path: Annotated[
        list[str],
        Field(
            description="RFC 9162 section 2.1.4, base64 hashes.",
            title="Consistency Path",
        ),
    ]
    first: Annotated[int, Field(title="First")]
    second: Annotated[int, Field(title="Second")]


class Disclosure(BaseModel):
    """
    One disclosure as a page, a report or an export shows it.
    """

    accessed_at: Annotated[AwareDatetime, Field(title="Accessed At")]
    actor: Annotated[str, Field(title="Actor")]
    channel: Annotated[str, Field(title="Channel")]
    consent_id: Annotated[str | None, Field(title="Consent Id")]
    consent_version: Annotated[int | None, Field(title="Consent Version")]
    decision: Annotated[str, Field(title="Decision")]
    decision_reason: Annotated[str | None, Field(title="Decision Reason")]
    event_id: Annotated[str, Field(title="Event Id")]
    fields: Annotated[list[str], Field(title="Fields")]
    grant_id: Annotated[str | None, Field(title="Grant Id")]
    legal_basis: Annotated[str, Field(title="Legal Basis")]
    legal_reference: Annotated[str | None, Field(title="Legal Reference")]
    organisation_country: Annotated[str | None, Field(title="Organisation Country")]
    organisation_id: Annotated[str, Field(title="Organisation Id")]
    purpose: Annotated[str, Field(title="Purpose")]
    recorded_at: Annotated[
        AwareDatetime,
        Field(
            description="When the log took it, a little before commit.",
            title="Recorded At",
        ),
    ]
    seq: Annotated[
        int,
        Field(
            description="Its position in the log (and leaf index in the tree).",
            title="Seq",
        ),
    ]
    subject_country: Annotated[
        str | None,
        Field(description="The personal part; null once erased.", title="Subject Country"),
    ]
    subject_id: Annotated[str, Field(title="Subject Id")]
    verdict: Annotated[
        str | None,
        Field(
            description="The consent check after the fact (valid, violation, not_disclosed); null until it is made.",
            title="Verdict",
        ),
    ]


class DisclosurePage(BaseModel):
    """
    A page of disclosures in log order.
    """

    items: Annotated[list[Disclosure], Field(title="Items")]
    next_cursor: Annotated[
        int | None,
        Field(
            description="Pass as `cursor` for the next page; null when this page is the last.",
            title="Next Cursor",
        ),
    ]


class EntryOut(BaseModel):
    """
    One entry, with the exact leaf data that was hashed.
    """

    accessed_at: Annotated[AwareDatetime, Field(title="Accessed At")]
    actor: Annotated[str, Field(title="Actor")]
    channel: Annotated[str, Field(title="Channel")]
    consent_id: Annotated[str | None, Field(title="Consent Id")]
    consent_version: Annotated[int | None, Field(title="Consent Version")]
    decision: Annotated[str, Field(title="Decision")]
    decision_reason: Annotated[str | None, Field(title="Decision Reason")]
    event_id: Annotated[str, Field(title="Event Id")]
    fields: Annotated[list[str], Field(title="Fields")]
    grant_id: Annotated[str | None, Field(title="Grant Id")]
    leaf_data: Annotated[
        str, Field(description="The leaf's canonical JSON, base64.", title="Leaf Data")
    ]
    legal_basis: Annotated[str, Field(title="Legal Basis")]
    legal_reference: Annotated[str | None, Field(title="Legal Reference")]
    organisation_country: Annotated[str | None, Field(title="Organisation Country")]
    organisation_id: Annotated[str, Field(title="Organisation Id")]
    purpose: Annotated[str, Field(title="Purpose")]
    recorded_at: Annotated[
        AwareDatetime,
        Field(
            description="When the log took it, a little before commit.",
            title="Recorded At",
        ),
    ]
    seq: Annotated[
        int,
        Field(
            description="Its position in the log (and leaf index in the tree).",
            title="Seq",
        ),
    ]
    subject_country: Annotated[
        str | None,
        Field(description="The personal part; null once erased.", title="Subject Country"),
    ]
    subject_id: Annotated[str, Field(title="Subject Id")]
    verdict: Annotated[
        str | None,
        Field(
            description="The consent check after the fact (valid, violation, not_disclosed); null until it is made.",
            title="Verdict",
        ),
    ]


class InclusionProof(BaseModel):
    """
    The audit path of one entry in a signed tree.
    """

    audit_path: Annotated[
        list[str],
        Field(description="RFC 9162 section 2.1.3, base64 hashes.", title="Audit Path"),
    ]
    leaf_hash: Annotated[
        str, Field(description="SHA-256(0x00 || leaf data), base64.", title="Leaf Hash")
    ]
    seq: Annotated[int, Field(title="Seq")]
    tree_size: Annotated[int, Field(title="Tree Size")]


class KeepBody(BaseModel):
    """
    The organisation keeps the data under an independent authorisation of the person.
    """

    reference: Annotated[
        str,
        Field(
            description="Which authorisation: a contract, a consent record, a case number.",
            examples=["Membership contract M-2026-0142, clause 7"],
            max_length=500,
            min_length=1,
            pattern="^[^\\x00]*\\S[^\\x00]*$",
            title="Reference",
        ),
    ]


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


class PublicKey(BaseModel):
    """
    The key tree heads are signed with.
    """

    algorithm: Annotated[str, Field(examples=["Ed25519"], title="Algorithm")]
    key_id: Annotated[
        str,
        Field(
            description="The first 16 hex digits of SHA-256 of the raw key.",
            title="Key Id",
        ),
    ]
    origin: Annotated[
        str,
        Field(
            description="The origin line of the log's checkpoints (GET /checkpoint), and the name their signature goes by.",
            examples=["localhost/privacy-audit-log"],
            title="Origin",
        ),
    ]
    public_key: Annotated[
        str,
        Field(description="The raw 32-byte public key, base64.", title="Public Key"),
    ]
    verifier_key: Annotated[
        str,
        Field(
            description="The same key as a C2SP signed-note verifier key (<origin>+<hex key id>+<base64(0x01 || key)>), for standard tools.",
            examples=["localhost/privacy-audit-log+0c1fa1f4+AcKz..."],
            title="Verifier Key",
        ),
    ]


class RecipientAction(StrEnum):
    """
    What the recipient is asked to do.
    """

    erase = "erase"
    rectify = "rectify"
    restrict = "restrict"


class Delivery(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class Delivery1(StrEnum):
    """
    The notifier's latest outcome for the notice.
    """

    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class State(StrEnum):
    """
    Where a request stands, derived from its answer and the clock.
    """

    outstanding = "outstanding"
    overdue = "overdue"
    confirmed = "confirmed"
    kept = "kept"


class SubjectsPage(BaseModel):
    """
    A page of the subjects an organisation received data of in a window.
    """

    categories: Annotated[
        list[str] | None,
        Field(
            description="The data categories asked for (an entry counts when its fields overlap them); null: every category.",
            examples=[["email_address", "phone_number"]],
            title="Categories",
        ),
    ]
    next_after: Annotated[
        str | None,
        Field(
            description="The last subject id of this page, to pass as `after` for the next one; null when this page is the last.",
            title="Next After",
        ),
    ]
    organisation: Annotated[str, Field(examples=["ph-philexport"], title="Organisation")]
    since: Annotated[
        AwareDatetime,
        Field(description="The window's start (included), in UTC.", title="Since"),
    ]
    subjects: Annotated[
        list[str],
        Field(description="Subject ids, sorted (byte order).", title="Subjects"),
    ]
    until: Annotated[
        AwareDatetime,
        Field(description="The window's end (excluded), in UTC.", title="Until"),
    ]


class TreeHead(BaseModel):
    """
    A signed tree head (RFC 6962 style).
    """

    key_id: Annotated[str, Field(title="Key Id")]
    root_hash: Annotated[str, Field(description="The tree's root, base64.", title="Root Hash")]
    signature: Annotated[
        str,
        Field(description="Ed25519 over the tree head message, base64.", title="Signature"),
    ]
    signed_at: Annotated[AwareDatetime, Field(title="Signed At")]
    timestamp: Annotated[
        int,
        Field(
            description="signed_at in milliseconds, as the signature covers it.",
            title="Timestamp",
        ),
    ]
    tree_size: Annotated[int, Field(title="Tree Size")]


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


class RecipientNotice(BaseModel):
    """
    What the person's report shows of one request: who was told, when, and the answer.
    """

    action: RecipientAction
    answered_at: Annotated[AwareDatetime | None, Field(title="Answered At")]
    data_categories: Annotated[list[str], Field(title="Data Categories")]
    delivered_at: Annotated[
        AwareDatetime | None,
        Field(description="When the notice was accepted, if it was.", title="Delivered At"),
    ]
    delivery: Annotated[Delivery, Field(title="Delivery")]
    organisation: Annotated[str, Field(title="Organisation")]
    reference: Annotated[
        str | None,
        Field(description="For 'kept': the authorisation it relies on.", title="Reference"),
    ]
    requested_at: Annotated[AwareDatetime, Field(title="Requested At")]
    state: State
    told_at: Annotated[
        AwareDatetime,
        Field(description="When the request was made and sent.", title="Told At"),
    ]


class RecipientRequestOut(BaseModel):
    """
    One organisation asked to act on one person's data, and where that stands.
    """

    action: RecipientAction
    answer: Answer | None = None
    answered_at: Annotated[AwareDatetime | None, Field(title="Answered At")] = None
    answered_by: Annotated[str | None, Field(title="Answered By")] = None
    created_at: Annotated[
        AwareDatetime,
        Field(description="When the request was made and sent.", title="Created At"),
    ]
    data_categories: Annotated[
        list[str],
        Field(
            description="Erase, restrict: what it received; rectify: which of those were corrected (names only).",
            title="Data Categories",
        ),
    ]
    delivery: Annotated[
        Delivery1,
        Field(
            description="The notifier's latest outcome for the notice.",
            title="Delivery",
        ),
    ]
    delivery_at: Annotated[AwareDatetime | None, Field(title="Delivery At")] = None
    delivery_reason: Annotated[
        str | None, Field(description="Why a delivery failed.", title="Delivery Reason")
    ] = None
    escalated_at: Annotated[
        AwareDatetime | None,
        Field(
            description="When recipient.request_escalated was sent, if it was.",
            title="Escalated At",
        ),
    ] = None
    last_received_at: Annotated[
        AwareDatetime,
        Field(description="When it last received them.", title="Last Received At"),
    ]
    organisation: Annotated[str, Field(examples=["ph-philexport"], title="Organisation")]
    reference: Annotated[
        str | None,
        Field(
            description="For 'kept': the person's independent authorisation.",
            title="Reference",
        ),
    ] = None
    request_id: Annotated[UUID, Field(title="Request Id")]
    requested_at: Annotated[
        AwareDatetime,
        Field(description="When the person exercised the right.", title="Requested At"),
    ]
    respond_by: Annotated[
        AwareDatetime,
        Field(description="created_at plus the time to answer.", title="Respond By"),
    ]
    state: Annotated[
        State,
        Field(description="outstanding, overdue (past respond_by), confirmed, kept."),
    ]
    user_id: Annotated[
        str,
        Field(
            description="The person, by the (pseudonymous) id it received.",
            title="User Id",
        ),
    ]


class RecipientRequestPage(BaseModel):
    """
    A page of requests in the order they were made.
    """

    items: Annotated[list[RecipientRequestOut], Field(title="Items")]
    next_cursor: Annotated[
        int | None,
        Field(
            description="Pass as `cursor` for the next page; null when this page is the last.",
            title="Next Cursor",
        ),
    ]


class SubjectReport(BaseModel):
    """
    Who received my data (a page of disclosures) and whom the platform told of my
    erasure, rectification or restriction (every notice, on every page).
    """

    items: Annotated[list[Disclosure], Field(title="Items")]
    next_cursor: Annotated[
        int | None,
        Field(
            description="Pass as `cursor` for the next page; null when this page is the last.",
            title="Next Cursor",
        ),
    ]
    recipient_notices: Annotated[list[RecipientNotice] | None, Field(title="Recipient Notices")] = (
        None
    )
