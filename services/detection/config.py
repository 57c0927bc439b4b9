"""Settings of the detection service (environment prefix ``DETECTION_``).

Every rule's settings have a default here (``DETECTION_RATE_FACTOR``...) and may be
overridden for one organisation (``DETECTION_ORGANISATIONS='{"ph-dti": {"rate_factor":
20}}'``, or the same JSON in the file ``DETECTION_ORGANISATIONS_FILE`` names).
"""

import json
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import Environment, ServiceSettings


class ClockKind(StrEnum):
    SYSTEM = "system"
    STORED = "stored"


class RuleSettings(BaseModel):
    """The knobs of the rules, for every organisation or for one (``docs/detection.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_factor: float = Field(default=10.0, gt=1)
    """volume_rate: reads in an hour above this many times the usual for that hour."""
    rate_min_reads: int = Field(default=500, ge=1)
    """volume_rate: never below this many reads in the hour."""
    sustained_hours: int = Field(default=6, ge=1, le=48)
    """volume_rate, sustained: the hours summed (1 switches the sustained check off)."""
    sustained_factor: float = Field(default=3.0, gt=1)
    """volume_rate, sustained: reads over those hours above this many times the usual."""
    sustained_min_reads: int = Field(default=300, ge=1)
    """volume_rate, sustained: never below this many reads over those hours."""
    breadth_factor: float = Field(default=2.0, gt=1)
    """volume_breadth: distinct people in an hour above this many times the most ever."""
    breadth_min_subjects: int = Field(default=500, ge=1)
    """volume_breadth: never below this many distinct people in the hour."""
    refusal_factor: float = Field(default=5.0, gt=1)
    """refusal_burst: refused reads in an hour above this many times the usual."""
    refusal_min: int = Field(default=50, ge=1)
    """refusal_burst: never below this many refusals in the hour."""
    violations_min: int = Field(default=10, ge=1)
    """consent_violations: violations the audit check found for one organisation in an hour."""
    learning_hours: int = Field(default=168, ge=0)
    """new_producer, new_channel, new_purpose: nothing is new until detection has watched
    (the organisation, or for producers the platform) for this many hours of event time."""
    disabled: list[str] = Field(default_factory=list)
    """Rules that never fire (their names)."""


class DetectionSettings(ServiceSettings):
    """Everything the detection service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="DETECTION_")
    service_name: ClassVar[str] = "detection"
    default_port: ClassVar[int] = 8007

    rules: RuleSettings = Field(default_factory=RuleSettings)
    """The rules' defaults (``DETECTION_RULES='{"rate_factor": 8}'``)."""
    organisations: dict[str, RuleSettings] = Field(default_factory=dict)
    """Per-organisation overrides, as whole settings merged over the defaults."""
    organisations_file: Path | None = None
    """A JSON file of per-organisation overrides (merged over ``organisations``)."""
    baseline_weeks: int = Field(default=4, ge=1, le=52)
    """Weeks of hourly history a baseline is learned from, and kept."""
    batch_size: int = Field(default=2000, ge=1, le=50_000)
    """Disclosures read (and judged) in one transaction, at most."""
    max_subjects_tracked: int = Field(default=1_000_000, ge=1000)
    """Distinct people remembered per organisation and hour, at most: the memory bound
    of the breadth rule (beyond it the count stops growing, the alert has long fired)."""
    clock: ClockKind = ClockKind.SYSTEM
    """``stored``: detection times come from the schema's ``clock`` table (tests)."""

    @model_validator(mode="after")
    def _checked(self) -> "DetectionSettings":
        if self.environment is Environment.PRODUCTION and self.clock is ClockKind.STORED:
            raise ValueError("clock: the stored clock is for tests; production runs on 'system'")
        # An override names only what it changes: the rest comes from the defaults.
        base = self.rules.model_dump()
        self.organisations = {
            org: RuleSettings.model_validate(
                {**base, **values.model_dump(include=values.model_fields_set)}
            )
            for org, values in self.organisations.items()
        }
        if self.organisations_file is not None:
            try:
                raw = json.loads(self.organisations_file.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"organisations_file: {exc}") from exc
            if not isinstance(raw, dict):
                raise ValueError("organisations_file: expected an object of organisations")
            for org, values in raw.items():
                if not isinstance(values, dict):
                    raise ValueError(f"organisations_file: {org}: expected an object")
                self.organisations[org] = RuleSettings.model_validate({**base, **values})
        return self

    def rules_for(self, organisation: str | None) -> RuleSettings:
        """The settings of ``organisation``'s rules: its override, else the defaults."""
        if organisation is not None and organisation in self.organisations:
            return self.organisations[organisation]
        return self.rules
