"""Events of breach detection and triage.

The detection service watches the disclosure stream and raises ``security.alert_raised``
(keyed by ``incident_id``: alerts about the same thing merge into one open incident);
the breach service lists the incidents for the security team, who declare a breach from
one or dismiss it (``breach.incident_triaged``, which closes the incident in detection),
and escalates one nobody triaged in time (``breach.incident_escalated``).
"""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Envelope, Payload

AUDIT_SEQS_CAP = 1000
"""At most this many audit sequence numbers travel on one alert (``audit_seqs_total``
says how many there were)."""


class Rule(StrEnum):
    """The detection rules (``docs/detection.md`` says why each indicates a breach)."""

    VOLUME_RATE = "volume_rate"
    VOLUME_BREADTH = "volume_breadth"
    CATEGORY_OUTSIDE_GRANT = "category_outside_grant"
    READ_AFTER_GRANT_END = "read_after_grant_end"
    NEW_PURPOSE = "new_purpose"
    REFUSAL_BURST = "refusal_burst"
    CONSENT_VIOLATIONS = "consent_violations"
    NEW_PRODUCER = "new_producer"
    NEW_CHANNEL = "new_channel"


class TriageDecision(StrEnum):
    DECLARED = "declared"
    DISMISSED = "dismissed"


class AlertCounts(Payload):
    """What the rule counted in the alert's window."""

    reads: int = Field(default=0, ge=0, description="Disclosures (allowed reads) counted.")
    subjects: int = Field(default=0, ge=0, description="Distinct people read.")
    refusals: int = Field(default=0, ge=0, description="Refused reads (decision deny).")
    violations: int = Field(default=0, ge=0, description="Consent violations found by audit.")
    baseline: float | None = Field(
        default=None,
        description="What the rule compared against: the usual count for this hour of the "
        "week, or the most ever seen; null when there is no history.",
    )
    threshold: float | None = Field(default=None, description="The count that fired the rule.")


class AlertRaisedPayload(Payload):
    """One rule fired; its evidence."""

    alert_id: str = Field(description="Unique per alert; consumers dedupe on it.")
    incident_id: str = Field(description="The incident the alert belongs to (merged alerts).")
    rule: Rule
    organisation_id: str | None = None
    producer: str | None = Field(default=None, description="The platform component, if known.")
    channel: str | None = None
    window_start: datetime = Field(description="The first event the rule counted.")
    window_end: datetime = Field(description="The last event the rule counted.")
    data_categories: list[str] = Field(default_factory=list)
    counts: AlertCounts
    audit_seqs: list[int] = Field(
        default_factory=list,
        max_length=AUDIT_SEQS_CAP,
        description="The audit log's sequence numbers of the entries that triggered it "
        "(each provable with the log's inclusion proof), at most 1,000.",
    )
    audit_seqs_total: int = Field(default=0, ge=0, description="How many there were in all.")
    summary: str = Field(description="One sentence for people.")
    detected_at: datetime = Field(description="When detection saw it (its clock).")


class AlertRaised(Envelope):
    """A detection rule fired. ``subject_id`` is the incident id (no single data subject)."""

    EVENT_TYPE: ClassVar[str] = "security.alert_raised"
    payload: AlertRaisedPayload


class IncidentTriagedPayload(Payload):
    incident_id: str
    decision: TriageDecision
    breach_id: str | None = Field(default=None, description="The breach declared from it.")
    reason: str | None = Field(default=None, description="Why it was dismissed.")
    decided_by: str
    decided_at: datetime


class IncidentTriaged(Envelope):
    """The security team declared a breach from an incident, or dismissed it.
    ``subject_id`` is the incident id."""

    EVENT_TYPE: ClassVar[str] = "breach.incident_triaged"
    payload: IncidentTriagedPayload


class IncidentEscalatedPayload(Payload):
    incident_id: str
    organisation_id: str | None = None
    rules: list[Rule]
    first_detected_at: datetime
    escalated_at: datetime
    untriaged_for_seconds: float = Field(ge=0)


class IncidentEscalated(Envelope):
    """An incident stayed untriaged past the breach service's limit (once per incident).
    ``subject_id`` is the incident id."""

    EVENT_TYPE: ClassVar[str] = "breach.incident_escalated"
    payload: IncidentEscalatedPayload
