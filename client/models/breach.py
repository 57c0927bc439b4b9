"""breach: generated from the service's OpenAPI document; do not edit.

Regenerate with ``python -m devtools.openapi_models`` (``make models``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel


class AlertOut(BaseModel):
    alert_id: Annotated[UUID, Field(title="Alert Id")]
    detected_at: Annotated[AwareDatetime, Field(title="Detected At")]
    payload: Annotated[
        dict[str, Any],
        Field(description="The alert as detection raised it.", title="Payload"),
    ]
    received_at: Annotated[AwareDatetime, Field(title="Received At")]
    rule: Annotated[str, Field(title="Rule")]


class AnnouncementIn(BaseModel):
    """
    A public announcement made for those who cannot be told one by one.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    published_at: Annotated[
        AwareDatetime,
        Field(
            description="An instant with its offset (ISO 8601), read in UTC.",
            examples=["2026-11-20T10:00:00Z"],
            title="Published At",
        ),
    ]
    text: Annotated[str, Field(max_length=20000, min_length=1, title="Text")]
    where: Annotated[
        str,
        Field(
            description="Where it was published.",
            examples=["https://example.org/x"],
            max_length=300,
            min_length=1,
            title="Where",
        ),
    ]


class AnnouncementOut(BaseModel):
    published_at: Annotated[AwareDatetime, Field(title="Published At")]
    recorded_at: Annotated[AwareDatetime, Field(title="Recorded At")]
    text: Annotated[str, Field(title="Text")]
    where: Annotated[str, Field(title="Where")]


class Finding(StrEnum):
    risk = "risk"
    high_risk = "high_risk"
    significant_harm = "significant_harm"
    serious_harm = "serious_harm"


class AssessmentIn(BaseModel):
    """
    The conclusion of the breach's risk assessment, as a recorded step.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    concluded_at: Annotated[
        AwareDatetime,
        Field(
            description="When the assessment concluded (Singapore's clock starts then).",
            examples=["2026-11-20T10:00:00Z"],
            title="Concluded At",
        ),
    ]
    findings: Annotated[
        list[Finding],
        Field(
            description="The triggers it found met; one it considered and did not find is left out (an empty list: no risk found).",
            examples=[["risk", "significant_harm"]],
            max_length=4,
            title="Findings",
        ),
    ]
    sensitive: Annotated[
        bool | None,
        Field(
            description="Sensitive personal data, or data that may enable identity fraud, are involved (the Philippines' rule).",
            title="Sensitive",
        ),
    ] = False
    text: Annotated[
        str,
        Field(
            description="The assessment as kept on file (Thailand keeps it even when nothing is notified).",
            max_length=20000,
            min_length=1,
            title="Text",
        ),
    ]


class AssessmentOut(BaseModel):
    assessed_by: Annotated[str, Field(title="Assessed By")]
    concluded_at: Annotated[AwareDatetime, Field(title="Concluded At")]
    findings: Annotated[list[str], Field(title="Findings")]
    recorded_at: Annotated[AwareDatetime, Field(title="Recorded At")]
    sensitive: Annotated[bool, Field(title="Sensitive")]
    seq: Annotated[int, Field(title="Seq")]
    text: Annotated[str, Field(title="Text")]


class BreachKind(StrEnum):
    """
    The kinds of breach (GDPR Art. 4(12); ENISA's and the EDPB's classification).
    """

    confidentiality = "confidentiality"
    integrity = "integrity"
    availability = "availability"


class ApproximateRecords(RootModel[int]):
    root: Annotated[
        int,
        Field(
            description="Personal data records concerned, if known.",
            ge=0,
            le=9223372036854776000,
            title="Approximate Records",
        ),
    ]


class DataCategory(RootModel[str]):
    root: Annotated[str, Field(examples=["email_address"], pattern="^[a-z][a-z0-9_]{0,63}$")]


class Status(StrEnum):
    open = "open"
    closed = "closed"


class BreachSummary(BaseModel):
    affected: Annotated[int, Field(title="Affected")]
    aware_at: Annotated[AwareDatetime, Field(title="Aware At")]
    breach_id: Annotated[UUID, Field(title="Breach Id")]
    deadline_at: Annotated[AwareDatetime, Field(title="Deadline At")]
    pending: Annotated[int, Field(title="Pending")]
    reference: Annotated[str, Field(title="Reference")]
    seconds_left: Annotated[int, Field(title="Seconds Left")]
    status: Annotated[Status, Field(title="Status")]
    title: Annotated[str, Field(title="Title")]


class CountryScope(BaseModel):
    """
    Everyone resident in a country.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    country: Annotated[
        str,
        Field(
            description="ISO 3166-1 alpha-2 country code.",
            examples=["PH"],
            title="Country",
        ),
    ]
    kind: Annotated[Literal["country"], Field(title="Kind")]


class CountsOut(BaseModel):
    affected: Annotated[int, Field(title="Affected")]
    covered_by_announcement: Annotated[int, Field(title="Covered By Announcement")]
    delivered: Annotated[
        int,
        Field(description="Accepted by a mail server (not: read).", title="Delivered"),
    ]
    failed: Annotated[int, Field(title="Failed")]
    notified: Annotated[int, Field(description="delivered + uncertain.", title="Notified")]
    pending: Annotated[
        int,
        Field(
            description="Neither notified nor covered by an announcement.",
            title="Pending",
        ),
    ]
    requested: Annotated[
        int,
        Field(description="Asked of the notifier, no outcome yet.", title="Requested"),
    ]
    uncertain: Annotated[
        int,
        Field(description="Accepted after a re-send; maybe two copies.", title="Uncertain"),
    ]
    unreachable: Annotated[int, Field(title="Unreachable")]


class Decision(StrEnum):
    """
    What the team decided about telling the supervisory authority.
    """

    report = "report"
    not_report = "not_report"


class Authority(RootModel[str]):
    root: Annotated[
        str,
        Field(
            examples=["National Privacy Commission"],
            max_length=300,
            min_length=1,
            title="Authority",
        ),
    ]


class DelayReasons(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="Required when reported more than 72 hours after awareness.",
            max_length=20000,
            min_length=1,
            title="Delay Reasons",
        ),
    ]


class Reason(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="Required when not reported.",
            max_length=20000,
            min_length=1,
            title="Reason",
        ),
    ]


class DecisionIn(BaseModel):
    """
    Whether the supervisory authority is told, and what Art. 33 asks with it.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    authority: Annotated[
        Authority | None,
        Field(examples=["National Privacy Commission"], title="Authority"),
    ] = None
    decision: Decision
    delay_reasons: Annotated[
        DelayReasons | None,
        Field(
            description="Required when reported more than 72 hours after awareness.",
            title="Delay Reasons",
        ),
    ] = None
    reason: Annotated[
        Reason | None, Field(description="Required when not reported.", title="Reason")
    ] = None
    reported_at: Annotated[
        AwareDatetime | None,
        Field(description="Required when reported.", title="Reported At"),
    ] = None


class DecisionOut(BaseModel):
    authority: Annotated[str | None, Field(title="Authority")]
    decided_at: Annotated[AwareDatetime, Field(title="Decided At")]
    decided_by: Annotated[str, Field(title="Decided By")]
    decision: Decision
    delay_reasons: Annotated[str | None, Field(title="Delay Reasons")]
    reason: Annotated[str | None, Field(title="Reason")]
    reported_at: Annotated[AwareDatetime | None, Field(title="Reported At")]


class DismissalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    reason: Annotated[
        str,
        Field(
            description="Why this is not a breach; kept (GDPR Art. 33(5)).",
            max_length=20000,
            min_length=1,
            title="Reason",
        ),
    ]


class EveryoneScope(BaseModel):
    """
    Everyone on the platform.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    kind: Annotated[Literal["everyone"], Field(title="Kind")]


class ApproximateRecords2(RootModel[int]):
    root: Annotated[int, Field(ge=0, le=10000000000, title="Approximate Records")]


class DataCategories(RootModel[list[DataCategory]]):
    root: Annotated[
        list[DataCategory],
        Field(
            description="Replace the incident's categories (all of them when absent).",
            max_length=100,
            min_length=1,
            title="Data Categories",
        ),
    ]


class IncidentDeclarationIn(BaseModel):
    """
    What people add to an incident to declare it a breach; the scope (organisation,
    window, categories) and detected_at come from the incident, aware_at is now.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    approximate_records: Annotated[
        ApproximateRecords2 | None, Field(title="Approximate Records")
    ] = None
    contact_point: Annotated[str, Field(max_length=300, min_length=1, title="Contact Point")]
    data_categories: Annotated[
        DataCategories | None,
        Field(
            description="Replace the incident's categories (all of them when absent).",
            title="Data Categories",
        ),
    ] = None
    kinds: Annotated[list[BreachKind], Field(max_length=3, min_length=1, title="Kinds")]
    likely_consequences: Annotated[
        str, Field(max_length=20000, min_length=1, title="Likely Consequences")
    ]
    measures_taken: Annotated[str, Field(max_length=20000, min_length=1, title="Measures Taken")]
    title: Annotated[str, Field(max_length=300, min_length=1, title="Title")]
    what_happened: Annotated[str, Field(max_length=20000, min_length=1, title="What Happened")]
    what_you_can_do: Annotated[str, Field(max_length=20000, min_length=1, title="What You Can Do")]


class Status2(StrEnum):
    open = "open"
    declared = "declared"
    dismissed = "dismissed"


class IncidentOut(BaseModel):
    """
    An incident with its evidence and the decision taken on it.
    """

    alerts: Annotated[int, Field(title="Alerts")]
    breach_id: Annotated[UUID | None, Field(title="Breach Id")]
    channel: Annotated[str | None, Field(title="Channel")]
    data_categories: Annotated[list[str], Field(title="Data Categories")]
    decided_at: Annotated[AwareDatetime | None, Field(title="Decided At")]
    decided_by: Annotated[str | None, Field(title="Decided By")]
    escalated_at: Annotated[
        AwareDatetime | None,
        Field(description="Escalated: untriaged for too long.", title="Escalated At"),
    ]
    evidence: Annotated[
        list[AlertOut], Field(description="The alerts, oldest first.", title="Evidence")
    ]
    first_detected_at: Annotated[
        AwareDatetime,
        Field(description="The first alert's detected_at.", title="First Detected At"),
    ]
    incident_id: Annotated[UUID, Field(title="Incident Id")]
    last_detected_at: Annotated[AwareDatetime, Field(title="Last Detected At")]
    organisation_id: Annotated[str | None, Field(title="Organisation Id")]
    producer: Annotated[str | None, Field(title="Producer")]
    reason: Annotated[
        str | None,
        Field(description="Why it was dismissed (GDPR Art. 33(5)).", title="Reason"),
    ]
    received_at: Annotated[
        AwareDatetime,
        Field(
            description="When the breach service received the first alert.",
            title="Received At",
        ),
    ]
    rules: Annotated[list[str], Field(title="Rules")]
    status: Annotated[Status2, Field(title="Status")]
    summary: Annotated[str, Field(description="The latest alert's sentence.", title="Summary")]
    window_end: Annotated[AwareDatetime, Field(title="Window End")]
    window_start: Annotated[AwareDatetime, Field(title="Window Start")]


class IncidentSummary(BaseModel):
    """
    An incident as listed: what, about whom, since when, and whether it was escalated.
    """

    alerts: Annotated[int, Field(title="Alerts")]
    channel: Annotated[str | None, Field(title="Channel")]
    data_categories: Annotated[list[str], Field(title="Data Categories")]
    escalated_at: Annotated[
        AwareDatetime | None,
        Field(description="Escalated: untriaged for too long.", title="Escalated At"),
    ]
    first_detected_at: Annotated[
        AwareDatetime,
        Field(description="The first alert's detected_at.", title="First Detected At"),
    ]
    incident_id: Annotated[UUID, Field(title="Incident Id")]
    last_detected_at: Annotated[AwareDatetime, Field(title="Last Detected At")]
    organisation_id: Annotated[str | None, Field(title="Organisation Id")]
    producer: Annotated[str | None, Field(title="Producer")]
    received_at: Annotated[
        AwareDatetime,
        Field(
            description="When the breach service received the first alert.",
            title="Received At",
        ),
    ]
    rules: Annotated[list[str], Field(title="Rules")]
    status: Annotated[Status2, Field(title="Status")]
    summary: Annotated[str, Field(description="The latest alert's sentence.", title="Summary")]
    window_end: Annotated[AwareDatetime, Field(title="Window End")]
    window_start: Annotated[AwareDatetime, Field(title="Window Start")]


class MailServerOut(BaseModel):
    down_since: Annotated[
        AwareDatetime,
        Field(
            description="Unreachable since then, as the notifier says.",
            title="Down Since",
        ),
    ]
    reason: Annotated[str | None, Field(title="Reason")]
    server: Annotated[str, Field(examples=["smtp.example.org:587"], title="Server")]


class NoticeState(StrEnum):
    """
    What is known of one person's notice; see docs/breach.md for what each proves.
    """

    requested = "requested"
    delivered = "delivered"
    uncertain = "uncertain"
    failed = "failed"
    covered_by_announcement = "covered_by_announcement"


class Mark(StrEnum):
    warning = "warning"
    missed = "missed"


class ObligationMarkOut(BaseModel):
    fired_at: Annotated[AwareDatetime, Field(title="Fired At")]
    mark: Annotated[Mark, Field(title="Mark")]
    point_at: Annotated[AwareDatetime, Field(title="Point At")]


class Recipient(StrEnum):
    regulator = "regulator"
    people = "people"


class Requirement(StrEnum):
    required = "required"
    not_required = "not_required"
    undetermined = "undetermined"


class State(StrEnum):
    pending = "pending"
    met = "met"
    late = "late"
    not_required = "not_required"


class ObligationOut(BaseModel):
    """
    One duty of one regime toward the regulator or the people, with its own clock.
    """

    after_regulator: Annotated[bool, Field(title="After Regulator")]
    anchor: Annotated[str, Field(description="What starts its clock.", title="Anchor")]
    anchor_at: Annotated[AwareDatetime | None, Field(title="Anchor At")]
    anchor_note: Annotated[str | None, Field(title="Anchor Note")]
    assessment_due_at: Annotated[AwareDatetime | None, Field(title="Assessment Due At")]
    assessment_on_file: Annotated[bool, Field(title="Assessment On File")]
    content: Annotated[list[str], Field(title="Content")]
    deadline_at: Annotated[AwareDatetime | None, Field(title="Deadline At")]
    deadline_rule: Annotated[str, Field(title="Deadline Rule")]
    delay_reasons: Annotated[str | None, Field(title="Delay Reasons")]
    disclaimer: Annotated[
        str,
        Field(
            description="Computed from <regime row>, reviewed <date>; not legal advice.",
            title="Disclaimer",
        ),
    ]
    evidence: Annotated[dict[str, Any], Field(title="Evidence")]
    extended_until: Annotated[AwareDatetime | None, Field(title="Extended Until")]
    form: Annotated[str | None, Field(title="Form")]
    late_requires_reasons: Annotated[bool, Field(title="Late Requires Reasons")]
    marks: Annotated[list[ObligationMarkOut], Field(title="Marks")]
    met_at: Annotated[AwareDatetime | None, Field(title="Met At")]
    met_by: Annotated[str | None, Field(title="Met By")]
    no_delay: Annotated[bool, Field(title="No Delay")]
    pending_people: Annotated[
        int | None,
        Field(
            description="For the people: those covered not yet told nor covered.",
            title="Pending People",
        ),
    ] = None
    people: Annotated[
        int, Field(description="The affected people the regime covers.", title="People")
    ]
    phases_until: Annotated[AwareDatetime | None, Field(title="Phases Until")]
    reason: Annotated[str, Field(title="Reason")]
    recipient: Annotated[Recipient, Field(title="Recipient")]
    regime: Annotated[str, Field(examples=["sg"], title="Regime")]
    regime_name: Annotated[str, Field(title="Regime Name")]
    regulator: Annotated[str, Field(title="Regulator")]
    requirement: Annotated[Requirement, Field(title="Requirement")]
    seconds_left: Annotated[
        int | None,
        Field(
            description="Until the deadline; negative once it passed; none without one.",
            title="Seconds Left",
        ),
    ]
    state: Annotated[State, Field(title="State")]
    unverified: Annotated[list[str], Field(title="Unverified")]
    warnings_at: Annotated[list[AwareDatetime], Field(title="Warnings At")]


class DataCategories1Item(RootModel[str]):
    root: Annotated[str, Field(examples=["email_address"], pattern="^[a-z][a-z0-9_]{0,63}$")]


class DataCategories1(RootModel[list[DataCategories1Item]]):
    root: Annotated[
        list[DataCategories1Item],
        Field(
            description="Only people whose data of these categories went there; all when absent.",
            max_length=100,
            min_length=1,
            title="Data Categories",
        ),
    ]


class OrganisationScope(BaseModel):
    """
    Everyone whose data an organisation received in a window (by the audit log).
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    data_categories: Annotated[
        DataCategories1 | None,
        Field(
            description="Only people whose data of these categories went there; all when absent.",
            title="Data Categories",
        ),
    ] = None
    kind: Annotated[Literal["organisation"], Field(title="Kind")]
    organisation: Annotated[
        str,
        Field(
            examples=["ph-dti"],
            pattern="^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
            title="Organisation",
        ),
    ]
    since: Annotated[
        AwareDatetime,
        Field(
            description="An instant with its offset (ISO 8601), read in UTC.",
            examples=["2026-11-20T10:00:00Z"],
            title="Since",
        ),
    ]
    until: Annotated[
        AwareDatetime,
        Field(
            description="An instant with its offset (ISO 8601), read in UTC.",
            examples=["2026-11-20T10:00:00Z"],
            title="Until",
        ),
    ]


class PersonOut(BaseModel):
    attempts: Annotated[int, Field(title="Attempts")]
    data_categories: Annotated[list[str], Field(title="Data Categories")]
    delivered_at: Annotated[AwareDatetime | None, Field(title="Delivered At")]
    detail: Annotated[str | None, Field(title="Detail")]
    failed_at: Annotated[AwareDatetime | None, Field(title="Failed At")]
    message_id: Annotated[str | None, Field(title="Message Id")]
    outcome_at: Annotated[AwareDatetime | None, Field(title="Outcome At")]
    queue_id: Annotated[str | None, Field(title="Queue Id")]
    reason: Annotated[str | None, Field(title="Reason")]
    requested_at: Annotated[AwareDatetime, Field(title="Requested At")]
    resends: Annotated[
        int | None,
        Field(description="Re-sends asked for this person's notice.", title="Resends"),
    ] = 0
    smtp_code: Annotated[int | None, Field(title="Smtp Code")]
    smtp_reply: Annotated[str | None, Field(title="Smtp Reply")]
    state: NoticeState
    user_id: Annotated[str, Field(title="User Id")]


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


class DelayReasons1(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="Required when told after the deadline under a regime that asks for reasons (GDPR, Thailand, Malaysia).",
            max_length=20000,
            min_length=1,
            title="Delay Reasons",
        ),
    ]


class Note(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="How it was filed, by whom, what next.",
            max_length=20000,
            min_length=1,
            title="Note",
        ),
    ]


class Reference(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="The regulator's reference for the report, if it gave one.",
            max_length=300,
            min_length=1,
            title="Reference",
        ),
    ]


class RegulatorNoticeIn(BaseModel):
    """
    That a regime's regulator was told, with the evidence.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    delay_reasons: Annotated[
        DelayReasons1 | None,
        Field(
            description="Required when told after the deadline under a regime that asks for reasons (GDPR, Thailand, Malaysia).",
            title="Delay Reasons",
        ),
    ] = None
    note: Annotated[
        Note | None,
        Field(description="How it was filed, by whom, what next.", title="Note"),
    ] = None
    notified_at: Annotated[
        AwareDatetime,
        Field(
            description="When the regulator was told.",
            examples=["2026-11-20T10:00:00Z"],
            title="Notified At",
        ),
    ]
    reference: Annotated[
        Reference | None,
        Field(
            description="The regulator's reference for the report, if it gave one.",
            title="Reference",
        ),
    ] = None


class UserId(RootModel[str]):
    root: Annotated[str, Field(pattern="^[^\\s\\x00]{1,128}$")]


class UserIds(RootModel[list[UserId]]):
    root: Annotated[
        list[UserId],
        Field(
            description="These people, if their notice failed for any reason but erasure (after an address was corrected through the registry, say); when absent, everyone whose notice failed for a temporary reason (retries_exhausted).",
            max_length=100000,
            min_length=1,
            title="User Ids",
        ),
    ]


class ResendIn(BaseModel):
    """
    Which failed notices to send again.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    user_ids: Annotated[
        UserIds | None,
        Field(
            description="These people, if their notice failed for any reason but erasure (after an address was corrected through the registry, say); when absent, everyone whose notice failed for a temporary reason (retries_exhausted).",
            title="User Ids",
        ),
    ] = None


class ResendOut(BaseModel):
    breach_id: Annotated[UUID, Field(title="Breach Id")]
    counts: CountsOut
    not_resent: Annotated[
        list[str],
        Field(
            description="People asked for whose notice did not fail, failed because they were erased, or are not in the breach.",
            title="Not Resent",
        ),
    ]
    requested: Annotated[
        int,
        Field(description="People whose notice is asked for again.", title="Requested"),
    ]


class ScopeOut(BaseModel):
    added: Annotated[int, Field(description="People it added to the breach.", title="Added")]
    added_by: Annotated[str, Field(title="Added By")]
    created_at: Annotated[AwareDatetime, Field(title="Created At")]
    done: Annotated[bool, Field(title="Done")]
    finished_at: Annotated[AwareDatetime | None, Field(title="Finished At")]
    found: Annotated[
        int,
        Field(
            description="People this scope named, new or already affected.",
            title="Found",
        ),
    ]
    kind: Annotated[str, Field(title="Kind")]
    last_error: Annotated[str | None, Field(title="Last Error")]
    pages: Annotated[int, Field(title="Pages")]
    scope_id: Annotated[int, Field(title="Scope Id")]
    spec: Annotated[dict[str, Any], Field(title="Spec")]


class TimelineOut(BaseModel):
    action: Annotated[str, Field(title="Action")]
    actor: Annotated[str, Field(title="Actor")]
    at: Annotated[AwareDatetime, Field(title="At")]
    detail: Annotated[dict[str, Any], Field(title="Detail")]
    seq: Annotated[int, Field(title="Seq")]


class UsersScope(BaseModel):
    """
    Named people.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    kind: Annotated[Literal["users"], Field(title="Kind")]
    user_ids: Annotated[list[UserId], Field(max_length=100000, min_length=1, title="User Ids")]


class WithoutDutyOut(BaseModel):
    people: Annotated[int, Field(title="People")]
    reason: Annotated[str, Field(title="Reason")]
    regime: Annotated[str, Field(title="Regime")]


class BreachList(BaseModel):
    breaches: Annotated[list[BreachSummary], Field(title="Breaches")]
    next_after: Annotated[
        str | None,
        Field(description="Pass as `after` for the next page.", title="Next After"),
    ]


class BreachOut(BaseModel):
    """
    A breach as it stands: its account, counts, time left and decisions.
    """

    announcement: AnnouncementOut | None
    announcement_required: Annotated[bool, Field(title="Announcement Required")]
    approximate_records: Annotated[
        ApproximateRecords | None,
        Field(
            description="Personal data records concerned, if known.",
            title="Approximate Records",
        ),
    ] = None
    aware_at: Annotated[AwareDatetime, Field(title="Aware At")]
    breach_id: Annotated[UUID, Field(title="Breach Id")]
    closed_at: Annotated[AwareDatetime | None, Field(title="Closed At")]
    contact_point: Annotated[str, Field(max_length=300, min_length=1, title="Contact Point")]
    counts: CountsOut
    data_categories: Annotated[
        list[DataCategory], Field(max_length=100, min_length=1, title="Data Categories")
    ]
    deadline_at: Annotated[AwareDatetime, Field(title="Deadline At")]
    declared_at: Annotated[AwareDatetime, Field(title="Declared At")]
    declared_by: Annotated[str, Field(title="Declared By")]
    detected_at: Annotated[
        AwareDatetime, Field(examples=["2026-11-20T10:00:00Z"], title="Detected At")
    ]
    ended_at: Annotated[AwareDatetime | None, Field(title="Ended At")] = None
    kinds: Annotated[list[str], Field(title="Kinds")]
    likely_consequences: Annotated[
        str, Field(max_length=20000, min_length=1, title="Likely Consequences")
    ]
    mail_servers_unreachable: Annotated[
        list[MailServerOut] | None,
        Field(
            description="Mail servers the notifier cannot reach now: notices wait for them (spending no attempts) until their horizon.",
            title="Mail Servers Unreachable",
        ),
    ] = None
    measures_taken: Annotated[str, Field(max_length=20000, min_length=1, title="Measures Taken")]
    reference: Annotated[str, Field(title="Reference")]
    regulator_decision: DecisionOut | None
    resent: Annotated[
        int | None,
        Field(description="People whose notice was sent again.", title="Resent"),
    ] = 0
    scopes_resolving: Annotated[int, Field(title="Scopes Resolving")]
    seconds_left: Annotated[
        int,
        Field(
            description="Until the deadline; negative once it passed.",
            title="Seconds Left",
        ),
    ]
    started_at: Annotated[AwareDatetime | None, Field(title="Started At")] = None
    status: Annotated[Status, Field(title="Status")]
    title: Annotated[str, Field(max_length=300, min_length=1, title="Title")]
    what_happened: Annotated[str, Field(max_length=20000, min_length=1, title="What Happened")]
    what_you_can_do: Annotated[str, Field(max_length=20000, min_length=1, title="What You Can Do")]


class Scope(RootModel[UsersScope | OrganisationScope | CountryScope | EveryoneScope]):
    root: Annotated[
        UsersScope | OrganisationScope | CountryScope | EveryoneScope,
        Field(discriminator="kind"),
    ]


class DeclarationIn(BaseModel):
    """
    A breach as the security team declares it: its account, its kinds, and who it
    concerns.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    approximate_records: Annotated[
        ApproximateRecords | None,
        Field(
            description="Personal data records concerned, if known.",
            title="Approximate Records",
        ),
    ] = None
    aware_at: Annotated[
        AwareDatetime | None,
        Field(
            description="When the platform became aware; now when absent.",
            title="Aware At",
        ),
    ] = None
    contact_point: Annotated[str, Field(max_length=300, min_length=1, title="Contact Point")]
    data_categories: Annotated[
        list[DataCategory], Field(max_length=100, min_length=1, title="Data Categories")
    ]
    detected_at: Annotated[
        AwareDatetime, Field(examples=["2026-11-20T10:00:00Z"], title="Detected At")
    ]
    ended_at: Annotated[AwareDatetime | None, Field(title="Ended At")] = None
    kinds: Annotated[list[BreachKind], Field(max_length=3, min_length=1, title="Kinds")]
    likely_consequences: Annotated[
        str, Field(max_length=20000, min_length=1, title="Likely Consequences")
    ]
    measures_taken: Annotated[str, Field(max_length=20000, min_length=1, title="Measures Taken")]
    scope: Annotated[list[Scope] | None, Field(max_length=100, title="Scope")] = None
    started_at: Annotated[AwareDatetime | None, Field(title="Started At")] = None
    title: Annotated[str, Field(max_length=300, min_length=1, title="Title")]
    what_happened: Annotated[str, Field(max_length=20000, min_length=1, title="What Happened")]
    what_you_can_do: Annotated[str, Field(max_length=20000, min_length=1, title="What You Can Do")]


class DeclaredOut(BaseModel):
    breach: BreachOut
    incident: IncidentOut


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


class IncidentList(BaseModel):
    incidents: Annotated[list[IncidentSummary], Field(title="Incidents")]


class ObligationsOut(BaseModel):
    """
    What the breach owes each regulator and its people, under each regime.
    """

    assessments: Annotated[list[AssessmentOut], Field(title="Assessments")]
    breach_id: Annotated[UUID, Field(title="Breach Id")]
    establishment: Annotated[
        list[str],
        Field(description="The controller's countries (a setting).", title="Establishment"),
    ]
    obligations: Annotated[list[ObligationOut], Field(title="Obligations")]
    people_by_country: Annotated[
        dict[str, int],
        Field(description="'' for people of unknown country.", title="People By Country"),
    ]
    without_duty: Annotated[list[WithoutDutyOut], Field(title="Without Duty")]


class PeoplePage(BaseModel):
    next_after: Annotated[
        str | None,
        Field(description="Pass as `after` for the next page.", title="Next After"),
    ]
    people: Annotated[list[PersonOut], Field(title="People")]
