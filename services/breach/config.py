"""Settings of the breach service (environment prefix ``BREACH_``)."""

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import APPEND_ONLY, Environment, ServiceSettings, TablePrivileges
from shared.validation import CountryCode


class ClockKind(StrEnum):
    SYSTEM = "system"
    STORED = "stored"


class BreachSettings(ServiceSettings):
    """Everything the breach service reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="BREACH_")
    service_name: ClassVar[str] = "breach"
    default_port: ClassVar[int] = 8004
    table_privileges: ClassVar[TablePrivileges] = dict.fromkeys(
        ("timeline", "outcomes", "assessments", "incident_alerts"), APPEND_ONLY
    )
    """The breach's timeline, the notice outcomes, the assessments and the detected alerts
    are evidence: append only."""

    audit_url: str = "http://127.0.0.1:8003"
    """Where the audit service answers which subjects an organisation received."""
    audit_timeout_seconds: float = 30.0
    clock: ClockKind = ClockKind.SYSTEM
    """``stored``: time comes from the schema's ``clock`` table (tests, the demo); refused
    in production."""
    warning_hours: list[int] = Field(default_factory=lambda: [24, 48, 66])
    """Hours after awareness at which ``breach.deadline_warning`` fires while anyone is
    not yet notified (``BREACH_WARNING_HOURS='[24,48,66]'``)."""
    clock_tick_seconds: float = Field(default=5.0, gt=0)
    """How often the clock's warnings and the missed deadline are checked."""
    resolve_seconds: float = Field(default=1.0, gt=0)
    """How often scopes waiting for resolution are looked for."""
    establishment: list[CountryCode] = Field(default_factory=list, max_length=50)
    """The countries where the controller is established (ISO 3166-1 alpha-2,
    ``BREACH_ESTABLISHMENT='["TH"]'``): their regimes cover everyone a breach affects,
    wherever they live (docs/regimes.md). Empty: only the people's own countries count."""
    regimes_file: Path | None = None
    """The breach-notification regimes; the file shipped with the service
    (``services/breach/regimes.toml``) when unset. Read and checked at start-up: a bad row
    stops the start, naming the row and the field."""
    triage_escalate_after: timedelta = Field(default=timedelta(hours=4), gt=timedelta(0))
    """An incident detection raised and nobody declared or dismissed within this long is
    escalated, once (``breach.incident_escalated``; seconds or ISO 8601, ``PT4H``)."""
    triage_tick_seconds: float = Field(default=5.0, gt=0)
    """How often incidents waiting for triage are looked at."""
    resolve_page_size: int = Field(default=1000, ge=1, le=10_000)
    """People resolved, and requests staged, per transaction."""

    @field_validator("warning_hours")
    @classmethod
    def _within_the_deadline(cls, hours: list[int]) -> list[int]:
        if any(not 0 < h < 72 for h in hours):
            raise ValueError("warning_hours: each point must be between 1 and 71 hours")
        return sorted(set(hours))

    @model_validator(mode="after")
    def _no_stored_clock_in_production(self) -> "BreachSettings":
        if self.environment is Environment.PRODUCTION and self.clock is ClockKind.STORED:
            raise ValueError("clock: the stored clock is for tests; production runs on 'system'")
        return self
