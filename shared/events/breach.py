"""Events produced by the breach service and the notifier."""

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Envelope, Payload


class BreachDetectedPayload(Payload):
    breach_id: str
    aware_at: datetime = Field(description="When the platform became aware; starts the clock.")
    deadline_at: datetime = Field(description="aware_at + 72 hours.")
    summary: str


class BreachDetected(Envelope):
    """A breach was declared. ``subject_id`` is the breach id (no single data subject)."""

    EVENT_TYPE: ClassVar[str] = "breach.detected"
    payload: BreachDetectedPayload


class NotificationRequestedPayload(Payload):
    breach_id: str
    user_id: str
    what_happened: str
    likely_impact: str
    measures_taken: str
    what_you_can_do: str
    deadline_at: datetime


class BreachNotificationRequested(Envelope):
    """One affected subject must be told about a breach."""

    EVENT_TYPE: ClassVar[str] = "breach.notification_requested"
    payload: NotificationRequestedPayload


class DeadlinePayload(Payload):
    breach_id: str
    deadline_at: datetime
    pending_notifications: int


class BreachDeadlineWarning(Envelope):
    EVENT_TYPE: ClassVar[str] = "breach.deadline_warning"
    payload: DeadlinePayload


class BreachDeadlineMissed(Envelope):
    EVENT_TYPE: ClassVar[str] = "breach.deadline_missed"
    payload: DeadlinePayload


class NotificationOutcomePayload(Payload):
    notification_id: str
    breach_id: str | None = None
    user_id: str
    channel: str = Field(examples=["email"])
    at: datetime
    detail: str | None = Field(default=None, description="SMTP reply, or the failure reason.")


class NotificationDelivered(Envelope):
    EVENT_TYPE: ClassVar[str] = "notification.delivered"
    payload: NotificationOutcomePayload


class NotificationFailed(Envelope):
    EVENT_TYPE: ClassVar[str] = "notification.failed"
    payload: NotificationOutcomePayload
