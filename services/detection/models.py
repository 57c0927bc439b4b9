"""The detection service's API models (its tables are plain statements in
``repository.py``: counters and rows written a batch at a time)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from services.detection.config import RuleSettings


class IncidentOut(BaseModel):
    """An incident as detection sees it: open until the security team triages it."""

    incident_id: UUID
    family: str = Field(examples=["volume"], description="The rules' family; alerts merge by it.")
    organisation_id: str | None
    producer: str | None
    opened_at: datetime
    last_alert_at: datetime
    alerts: int
    closed_at: datetime | None
    decision: str | None = Field(description="declared or dismissed, once triaged.")
    breach_id: str | None
    evidence: list[dict[str, Any]] = Field(description="The alerts' payloads, oldest first.")


class IncidentList(BaseModel):
    incidents: list[IncidentOut]


class RulesOut(BaseModel):
    """The rule settings in force for an organisation."""

    organisation_id: str | None
    overridden: bool = Field(description="Whether the organisation has settings of its own.")
    settings: RuleSettings
    baseline_weeks: int
