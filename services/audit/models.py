"""The audit service's API schemas: what each route returns, for ``/openapi.json``."""

from datetime import datetime

from pydantic import BaseModel, Field


class SubjectsPage(BaseModel):
    """A page of the subjects an organisation received data of in a window."""

    organisation: str = Field(examples=["ph-philexport"])
    since: datetime = Field(description="The window's start (included), in UTC.")
    until: datetime = Field(description="The window's end (excluded), in UTC.")
    categories: list[str] | None = Field(
        description="The data categories asked for (an entry counts when its fields overlap "
        "them); null: every category.",
        examples=[["email_address", "phone_number"]],
    )
    subjects: list[str] = Field(description="Subject ids, sorted (byte order).")
    next_after: str | None = Field(
        description="The last subject id of this page, to pass as `after` for the next one; "
        "null when this page is the last."
    )


class Disclosure(BaseModel):
    """One disclosure as a page, a report or an export shows it."""

    seq: int = Field(description="Its position in the log (and leaf index in the tree).")
    event_id: str
    accessed_at: datetime
    recorded_at: datetime = Field(description="When the log took it, a little before commit.")
    organisation_id: str
    organisation_country: str | None
    actor: str
    subject_id: str
    subject_country: str | None = Field(description="The personal part; null once erased.")
    fields: list[str]
    purpose: str
    legal_basis: str
    legal_reference: str | None
    channel: str
    decision: str
    decision_reason: str | None
    consent_id: str | None
    consent_version: int | None
    grant_id: str | None
    verdict: str | None = Field(
        description="The consent check after the fact (valid, violation, not_disclosed); "
        "null until it is made."
    )


class DisclosurePage(BaseModel):
    """A page of disclosures in log order."""

    items: list[Disclosure]
    next_cursor: int | None = Field(
        description="Pass as `cursor` for the next page; null when this page is the last."
    )


class EntryOut(Disclosure):
    """One entry, with the exact leaf data that was hashed."""

    leaf_data: str = Field(description="The leaf's canonical JSON, base64.")


class TreeHead(BaseModel):
    """A signed tree head (RFC 6962 style)."""

    tree_size: int
    root_hash: str = Field(description="The tree's root, base64.")
    timestamp: int = Field(description="signed_at in milliseconds, as the signature covers it.")
    signed_at: datetime
    signature: str = Field(description="Ed25519 over the tree head message, base64.")
    key_id: str


class PublicKey(BaseModel):
    """The key tree heads are signed with."""

    algorithm: str = Field(examples=["Ed25519"])
    key_id: str = Field(description="The first 16 hex digits of SHA-256 of the raw key.")
    public_key: str = Field(description="The raw 32-byte public key, base64.")
    origin: str = Field(
        description="The origin line of the log's checkpoints (GET /checkpoint), and the "
        "name their signature goes by.",
        examples=["localhost/privacy-audit-log"],
    )
    verifier_key: str = Field(
        description="The same key as a C2SP signed-note verifier key "
        "(<origin>+<hex key id>+<base64(0x01 || key)>), for standard tools.",
        examples=["localhost/privacy-audit-log+0c1fa1f4+AcKz..."],
    )


class InclusionProof(BaseModel):
    """The audit path of one entry in a signed tree."""

    seq: int
    tree_size: int
    leaf_hash: str = Field(description="SHA-256(0x00 || leaf data), base64.")
    audit_path: list[str] = Field(description="RFC 9162 section 2.1.3, base64 hashes.")


class ConsistencyProof(BaseModel):
    """That the signed tree of ``first`` entries is a prefix of that of ``second``."""

    first: int
    second: int
    consistency_path: list[str] = Field(description="RFC 9162 section 2.1.4, base64 hashes.")
