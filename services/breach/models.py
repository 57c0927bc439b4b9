"""Tables of the breach schema, and the shapes of its HTTP API."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)
from sqlalchemy import BigInteger, Column, DateTime, Identity, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field as Column_
from sqlmodel import SQLModel

from services.breach.domain import Decision, NoticeState
from shared.events import BreachKind
from shared.validation import CountryCode, Instant


def _ts(nullable: bool = True) -> Any:
    return Column_(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _texts() -> Any:
    return Column_(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))


# --- Edge types ---------------------------------------------------------------------


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Line = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_no_nul),
]
Prose = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000),
    AfterValidator(_no_nul),
]
UserId = Annotated[str, StringConstraints(pattern=r"^[^\s\x00]{1,128}$")]
Category = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$"),
    Field(examples=["email_address"]),
]
Organisation = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
    Field(examples=["ph-dti"]),
]
Categories = Annotated[list[Category], Field(min_length=1, max_length=100)]


# --- The fields, once -------------------------------------------------------------


class BreachBase(SQLModel):
    """A breach's account: what its declaration gives and every notice repeats."""

    title: Line
    what_happened: Prose
    started_at: Instant | None = Column_(default=None, sa_type=DateTime(timezone=True))
    ended_at: Instant | None = Column_(default=None, sa_type=DateTime(timezone=True))
    detected_at: Instant = Column_(sa_type=DateTime(timezone=True))
    data_categories: Categories = Column_(sa_type=ARRAY(Text))
    # bigint, as the migration made it: a plain int binds as INTEGER (int4 overflows)
    approximate_records: int | None = Column_(
        default=None,
        ge=0,
        le=2**63 - 1,
        sa_type=BigInteger,
        description="Personal data records concerned, if known.",
    )
    likely_consequences: Prose
    measures_taken: Prose
    what_you_can_do: Prose
    contact_point: Line


# --- Tables -----------------------------------------------------------------------


class BreachRow(BreachBase, table=True):
    """A declared breach: its account, its announcement and the regulator decision."""

    __tablename__ = "breaches"

    breach_id: UUID = Column_(primary_key=True)
    reference: str
    idempotency_key: str | None = None
    request_digest: str | None = None
    kinds: list[str] = _texts()
    aware_at: datetime = _ts(False)
    declared_by: str
    declared_at: datetime = _ts(False)
    closed_at: datetime | None = _ts()
    closed_by: str | None = None
    announcement_text: str | None = None
    announcement_where: str | None = None
    announcement_published_at: datetime | None = _ts()
    announcement_recorded_at: datetime | None = _ts()
    decision: str | None = None
    decision_reason: str | None = None
    authority: str | None = None
    reported_at: datetime | None = _ts()
    delay_reasons: str | None = None
    decided_at: datetime | None = _ts()
    decided_by: str | None = None


class ScopeRow(SQLModel, table=True):
    """One part of a breach's scope and how far its resolution to people got."""

    __tablename__ = "scopes"

    scope_id: int | None = Column_(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    breach_id: UUID
    kind: str
    spec: dict[str, Any] = Column_(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    cursor: str | None = None
    done: bool = False
    found: int = Column_(default=0, sa_type=BigInteger)
    added: int = Column_(default=0, sa_type=BigInteger)
    pages: int = Column_(default=0, sa_type=BigInteger)
    last_error: str | None = None
    added_by: str
    created_at: datetime = _ts(False)
    finished_at: datetime | None = _ts()


class AffectedRow(SQLModel, table=True):
    """One affected person of a breach and what is known of their notice."""

    __tablename__ = "affected"

    breach_id: UUID = Column_(primary_key=True)
    user_id: str = Column_(primary_key=True)
    scope_id: int = Column_(sa_type=BigInteger)
    data_categories: list[str] = _texts()
    state: str = NoticeState.REQUESTED.value
    requested_at: datetime = _ts(False)
    outcome_at: datetime | None = _ts()
    delivered_at: datetime | None = _ts()
    failed_at: datetime | None = _ts()
    attempts: int = 0
    message_id: str | None = None
    smtp_code: int | None = None
    smtp_reply: str | None = None
    queue_id: str | None = None
    reason: str | None = None
    detail: str | None = None
    resends: int = 0


class TimelineRow(SQLModel, table=True):
    """One change to a breach, kept forever (the table refuses UPDATE and DELETE)."""

    __tablename__ = "timeline"

    seq: int | None = Column_(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    breach_id: UUID
    at: datetime = _ts(False)
    recorded_at: datetime | None = Column_(
        default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now())
    )
    actor: str
    action: str
    detail: dict[str, Any] = Column_(default_factory=dict, sa_column=Column(JSONB, nullable=False))


# --- Scopes -------------------------------------------------------------------------


class UsersScope(BaseModel):
    """Named people."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["users"]
    user_ids: list[UserId] = Field(min_length=1, max_length=100_000)


class OrganisationScope(BaseModel):
    """Everyone whose data an organisation received in a window (by the audit log)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["organisation"]
    organisation: Organisation
    since: Instant
    until: Instant
    data_categories: Categories | None = Field(
        default=None,
        description="Only people whose data of these categories went there; all when absent.",
    )

    @model_validator(mode="after")
    def _window(self) -> "OrganisationScope":
        if self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class CountryScope(BaseModel):
    """Everyone resident in a country."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["country"]
    country: CountryCode


class EveryoneScope(BaseModel):
    """Everyone on the platform."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["everyone"]


Scope = Annotated[
    UsersScope | OrganisationScope | CountryScope | EveryoneScope, Field(discriminator="kind")
]
_SCOPE: TypeAdapter[UsersScope | OrganisationScope | CountryScope | EveryoneScope] = TypeAdapter(
    Scope
)


def stored_scope(
    kind: str, spec: dict[str, Any]
) -> UsersScope | OrganisationScope | CountryScope | EveryoneScope:
    """A stored scope read back through its model. Named people stay in the table (they
    are paged from there, never loaded at once): their scope comes back without them."""
    if kind == "users":
        return UsersScope.model_construct(kind="users", user_ids=[])
    return _SCOPE.validate_python({**spec, "kind": kind})


# --- Requests -----------------------------------------------------------------------


class DeclarationIn(BreachBase):
    """A breach as the security team declares it: its account, its kinds, and who it
    concerns."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    kinds: list[BreachKind] = Field(min_length=1, max_length=3)
    aware_at: Instant | None = Field(
        default=None, description="When the platform became aware; now when absent."
    )
    scope: list[Scope] = Field(default_factory=list, max_length=100)


class AnnouncementIn(BaseModel):
    """A public announcement made for those who cannot be told one by one."""

    model_config = ConfigDict(extra="forbid")

    text: Prose
    where: Line = Field(description="Where it was published.", examples=["https://example.org/x"])
    published_at: Instant


class DecisionIn(BaseModel):
    """Whether the supervisory authority is told, and what Art. 33 asks with it."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reason: Prose | None = Field(default=None, description="Required when not reported.")
    authority: Line | None = Field(default=None, examples=["National Privacy Commission"])
    reported_at: Instant | None = Field(default=None, description="Required when reported.")
    delay_reasons: Prose | None = Field(
        default=None, description="Required when reported more than 72 hours after awareness."
    )


class ResendIn(BaseModel):
    """Which failed notices to send again."""

    model_config = ConfigDict(extra="forbid")

    user_ids: list[UserId] | None = Field(
        default=None,
        min_length=1,
        max_length=100_000,
        description="These people, if their notice failed for any reason but erasure "
        "(after an address was corrected through the registry, say); when absent, "
        "everyone whose notice failed for a temporary reason (retries_exhausted).",
    )


# --- Answers ------------------------------------------------------------------------


class CountsOut(BaseModel):
    affected: int
    requested: int = Field(description="Asked of the notifier, no outcome yet.")
    delivered: int = Field(description="Accepted by a mail server (not: read).")
    uncertain: int = Field(description="Accepted after a re-send; maybe two copies.")
    failed: int
    notified: int = Field(description="delivered + uncertain.")
    unreachable: int
    covered_by_announcement: int
    pending: int = Field(description="Neither notified nor covered by an announcement.")


class MailServerOut(BaseModel):
    server: str = Field(examples=["smtp.example.org:587"])
    down_since: datetime = Field(description="Unreachable since then, as the notifier says.")
    reason: str | None


class ResendOut(BaseModel):
    breach_id: UUID
    requested: int = Field(description="People whose notice is asked for again.")
    not_resent: list[str] = Field(
        description="People asked for whose notice did not fail, failed because they were "
        "erased, or are not in the breach."
    )
    counts: CountsOut


class AnnouncementOut(BaseModel):
    text: str
    where: str
    published_at: datetime
    recorded_at: datetime


class DecisionOut(BaseModel):
    decision: Decision
    reason: str | None
    authority: str | None
    reported_at: datetime | None
    delay_reasons: str | None
    decided_at: datetime
    decided_by: str


class ScopeOut(BaseModel):
    scope_id: int
    kind: str
    spec: dict[str, Any]
    done: bool
    found: int = Field(description="People this scope named, new or already affected.")
    added: int = Field(description="People it added to the breach.")
    pages: int
    last_error: str | None
    added_by: str
    created_at: datetime
    finished_at: datetime | None


class BreachOut(BreachBase):
    """A breach as it stands: its account, counts, time left and decisions."""

    breach_id: UUID
    reference: str
    status: Literal["open", "closed"]
    kinds: list[str]
    aware_at: datetime
    deadline_at: datetime
    seconds_left: int = Field(description="Until the deadline; negative once it passed.")
    declared_by: str
    declared_at: datetime
    closed_at: datetime | None
    counts: CountsOut
    announcement_required: bool
    announcement: AnnouncementOut | None
    regulator_decision: DecisionOut | None
    scopes_resolving: int
    mail_servers_unreachable: list[MailServerOut] = Field(
        default_factory=list,
        description="Mail servers the notifier cannot reach now: notices wait for them "
        "(spending no attempts) until their horizon.",
    )
    resent: int = Field(default=0, description="People whose notice was sent again.")


class BreachSummary(BaseModel):
    breach_id: UUID
    reference: str
    title: str
    status: Literal["open", "closed"]
    aware_at: datetime
    deadline_at: datetime
    seconds_left: int
    affected: int
    pending: int


class BreachList(BaseModel):
    breaches: list[BreachSummary]
    next_after: str | None = Field(description="Pass as `after` for the next page.")


class PersonOut(BaseModel):
    user_id: str
    state: NoticeState
    data_categories: list[str]
    requested_at: datetime
    outcome_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    attempts: int
    message_id: str | None
    smtp_code: int | None
    smtp_reply: str | None
    queue_id: str | None
    reason: str | None
    detail: str | None
    resends: int = Field(default=0, description="Re-sends asked for this person's notice.")


class PeoplePage(BaseModel):
    people: list[PersonOut]
    next_after: str | None = Field(description="Pass as `after` for the next page.")


class TimelineOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


# --- Obligations under the regimes ----------------------------------------------------

Finding = Literal["risk", "high_risk", "significant_harm", "serious_harm"]


class AssessmentIn(BaseModel):
    """The conclusion of the breach's risk assessment, as a recorded step."""

    model_config = ConfigDict(extra="forbid")

    concluded_at: Instant = Field(
        description="When the assessment concluded (Singapore's clock starts then)."
    )
    findings: list[Finding] = Field(
        max_length=4,
        description="The triggers it found met; one it considered and did not find is left "
        "out (an empty list: no risk found).",
        examples=[["risk", "significant_harm"]],
    )
    sensitive: bool = Field(
        default=False,
        description="Sensitive personal data, or data that may enable identity fraud, are "
        "involved (the Philippines' rule).",
    )
    text: Prose = Field(
        description="The assessment as kept on file (Thailand keeps it even "
        "when nothing is notified)."
    )


class AssessmentOut(BaseModel):
    seq: int
    assessed_by: str
    concluded_at: datetime
    findings: list[str]
    sensitive: bool
    text: str
    recorded_at: datetime


class RegulatorNoticeIn(BaseModel):
    """That a regime's regulator was told, with the evidence."""

    model_config = ConfigDict(extra="forbid")

    notified_at: Instant = Field(description="When the regulator was told.")
    reference: Line | None = Field(
        default=None, description="The regulator's reference for the report, if it gave one."
    )
    delay_reasons: Prose | None = Field(
        default=None,
        description="Required when told after the deadline under a regime that asks for "
        "reasons (GDPR, Thailand, Malaysia).",
    )
    note: Prose | None = Field(default=None, description="How it was filed, by whom, what next.")


class ObligationMarkOut(BaseModel):
    mark: Literal["warning", "missed"]
    point_at: datetime
    fired_at: datetime


class ObligationOut(BaseModel):
    """One duty of one regime toward the regulator or the people, with its own clock."""

    regime: str = Field(examples=["sg"])
    regime_name: str
    regulator: str
    recipient: Literal["regulator", "people"]
    requirement: Literal["required", "not_required", "undetermined"]
    reason: str
    state: Literal["pending", "met", "late", "not_required"]
    people: int = Field(description="The affected people the regime covers.")
    pending_people: int | None = Field(
        default=None, description="For the people: those covered not yet told nor covered."
    )
    anchor: str = Field(description="What starts its clock.")
    anchor_at: datetime | None
    anchor_note: str | None
    deadline_rule: str
    deadline_at: datetime | None
    seconds_left: int | None = Field(
        description="Until the deadline; negative once it passed; none without one."
    )
    warnings_at: list[datetime]
    extended_until: datetime | None
    phases_until: datetime | None
    no_delay: bool
    late_requires_reasons: bool
    after_regulator: bool
    assessment_due_at: datetime | None
    assessment_on_file: bool
    content: list[str]
    form: str | None
    unverified: list[str]
    met_at: datetime | None
    met_by: str | None
    delay_reasons: str | None
    evidence: dict[str, Any]
    marks: list[ObligationMarkOut]
    disclaimer: str = Field(
        description="Computed from <regime row>, reviewed <date>; not legal advice."
    )


class WithoutDutyOut(BaseModel):
    regime: str
    people: int
    reason: str


class ObligationsOut(BaseModel):
    """What the breach owes each regulator and its people, under each regime."""

    breach_id: UUID
    establishment: list[str] = Field(description="The controller's countries (a setting).")
    people_by_country: dict[str, int] = Field(description="'' for people of unknown country.")
    obligations: list[ObligationOut]
    without_duty: list[WithoutDutyOut]
    assessments: list[AssessmentOut]
