"""The shapes of triage's HTTP API (its two tables are written by plain statements in
``repository.py``: ``incidents``, and ``incident_alerts``, append only)."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.breach.models import BreachOut, Categories, Line, Prose
from shared.events import BreachKind

Status = Literal["open", "declared", "dismissed"]


class IncidentSummary(BaseModel):
    """An incident as listed: what, about whom, since when, and whether it was escalated."""

    incident_id: UUID
    status: Status
    organisation_id: str | None
    producer: str | None
    channel: str | None
    rules: list[str]
    data_categories: list[str]
    window_start: datetime
    window_end: datetime
    first_detected_at: datetime = Field(description="The first alert's detected_at.")
    last_detected_at: datetime
    received_at: datetime = Field(description="When the breach service received the first alert.")
    alerts: int
    escalated_at: datetime | None = Field(description="Escalated: untriaged for too long.")
    summary: str = Field(description="The latest alert's sentence.")


class AlertOut(BaseModel):
    alert_id: UUID
    rule: str
    detected_at: datetime
    received_at: datetime
    payload: dict[str, Any] = Field(description="The alert as detection raised it.")


class IncidentOut(IncidentSummary):
    """An incident with its evidence and the decision taken on it."""

    decided_at: datetime | None
    decided_by: str | None
    reason: str | None = Field(description="Why it was dismissed (GDPR Art. 33(5)).")
    breach_id: UUID | None
    evidence: list[AlertOut] = Field(description="The alerts, oldest first.")


class IncidentList(BaseModel):
    incidents: list[IncidentSummary]


class IncidentDeclarationIn(BaseModel):
    """What people add to an incident to declare it a breach; the scope (organisation,
    window, categories) and detected_at come from the incident, aware_at is now."""

    model_config = ConfigDict(extra="forbid")

    title: Line
    what_happened: Prose
    kinds: list[BreachKind] = Field(min_length=1, max_length=3)
    likely_consequences: Prose
    measures_taken: Prose
    what_you_can_do: Prose
    contact_point: Line
    approximate_records: int | None = Field(default=None, ge=0, le=10_000_000_000)
    data_categories: Categories | None = Field(
        default=None, description="Replace the incident's categories (all of them when absent)."
    )


class DismissalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Prose = Field(description="Why this is not a breach; kept (GDPR Art. 33(5)).")


class DeclaredOut(BaseModel):
    incident: IncidentOut
    breach: BreachOut
