"""The recipient notices' settings, mixed into the audit's (prefix ``AUDIT_``)."""

from enum import StrEnum

from pydantic import Field, model_validator

from shared.settings import Environment, ServiceSettings

RECIPIENT_TABLES = (
    "recipient_triggers",
    "recipient_sweeps",
    "recipient_requests",
    "recipient_outcomes",
    "recipient_answers",
    "recipient_escalations",
)
"""The notices' tables (migration 0006): evidence, so append-only for the service."""


class ClockKind(StrEnum):
    SYSTEM = "system"
    STORED = "stored"


class RecipientSettings(ServiceSettings):
    """How recipient notices wait, re-check, expect answers and escalate."""

    recipients_clock: ClockKind = ClockKind.SYSTEM
    """``stored``: the notices take the time from the schema's ``clock`` table (tests, the
    demo); refused in production."""
    recipients_settle_seconds: float = Field(default=30.0, ge=0)
    """How long after a person's erasure, rectification or restriction reaches the audit
    the recipients are first looked up: disclosures made before it may still be on
    their way (``data.accessed`` is another topic)."""
    recipients_recheck_seconds: float = Field(default=3600.0, ge=0)
    """When (after the event reached the audit) the recipients are looked up a second
    and last time, for disclosures that came later still."""
    recipients_respond_days: float = Field(default=30.0, gt=0)
    """How long a recipient has to answer a request before it is escalated."""
    recipients_tick_seconds: float = Field(default=5.0, gt=0)
    """How often due look-ups and escalations are looked for."""
    recipients_catch_up_seconds: float = Field(default=86400.0, ge=0)
    """How far past a look-up's or an escalation's due time a tick still looks for it; the
    first tick after a start looks at everything (what came due while it was down)."""
    recipients_batch: int = Field(default=500, ge=1, le=10_000)
    """Events looked up, or requests escalated, per transaction."""

    @model_validator(mode="after")
    def _recipients_consistent(self) -> "RecipientSettings":
        if self.environment is Environment.PRODUCTION and (
            self.recipients_clock is ClockKind.STORED
        ):
            raise ValueError(
                "recipients_clock: the stored clock is for tests; production runs on 'system'"
            )
        if self.recipients_recheck_seconds < self.recipients_settle_seconds:
            raise ValueError(
                "recipients_recheck_seconds: must not be shorter than recipients_settle_seconds"
            )
        return self
