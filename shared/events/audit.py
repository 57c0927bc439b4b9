"""Events produced by the audit service."""

from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Envelope, Payload


class ViolationDetectedPayload(Payload):
    """A disclosure that had no valid consent, grant or legal basis at the time."""

    disclosure_event_id: str
    log_index: int = Field(description="The entry's position in the audit log.")
    organisation_id: str
    purpose: str
    reason: str


class ViolationDetected(Envelope):
    EVENT_TYPE: ClassVar[str] = "audit.violation_detected"
    payload: ViolationDetectedPayload
