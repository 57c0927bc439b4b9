"""Events produced by the breach service and the notifier.

The breach service and the notifier meet at two contracts: a
``breach.notification_requested`` event asks for one notice to one person (keyed by
``notice_id``, so it is sent once however often it is asked for), and the notifier
answers each with ``notification.delivered`` or ``notification.failed`` under the same
``notice_id``. The outcome contracts name no breach in particular: the notifier sends
other kinds of notice (``kind``) through the same path.
"""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Envelope, Payload


class BreachKind(StrEnum):
    """The kinds of breach (GDPR Art. 4(12); ENISA's and the EDPB's classification)."""

    CONFIDENTIALITY = "confidentiality"
    INTEGRITY = "integrity"
    AVAILABILITY = "availability"


class BreachDetectedPayload(Payload):
    breach_id: str = Field(description="The breach service's id for the breach.")
    reference: str = Field(
        description="The human reference quoted in notices.", examples=["BR-2026-0007"]
    )
    title: str
    kinds: list[BreachKind] = Field(description="Confidentiality, integrity, availability.")
    aware_at: datetime = Field(description="When the platform became aware; starts the clock.")
    deadline_at: datetime = Field(description="aware_at + 72 hours.")
    data_categories: list[str] = Field(description="Data categories involved.")


class BreachDetected(Envelope):
    """A breach was declared. ``subject_id`` is the breach id (no single data subject)."""

    EVENT_TYPE: ClassVar[str] = "breach.detected"
    payload: BreachDetectedPayload


class NotificationRequestedPayload(Payload):
    notice_id: str = Field(
        description="The idempotency key of this notice: one email per notice_id, ever. "
        "For a breach notice, 'breach:<breach_id>:<user_id>'.",
        examples=["breach:4f1c…:u-1"],
    )
    kind: str = Field(
        default="breach_notice",
        description="Which template the notifier renders.",
        examples=["breach_notice"],
    )
    breach_id: str
    user_id: str = Field(description="The person to tell; the notifier knows their address.")
    reference: str = Field(description="The breach's reference.", examples=["BR-2026-0007"])
    title: str
    what_happened: str
    started_at: datetime | None = Field(default=None, description="When the breach began.")
    ended_at: datetime | None = Field(default=None, description="When it was contained.")
    aware_at: datetime
    data_categories: list[str] = Field(
        description="Which of this person's data were involved (the categories that "
        "reached the breached place, when known)."
    )
    likely_consequences: str
    measures_taken: str
    what_you_can_do: str
    contact_point: str = Field(description="Whom to ask: name, email or phone.")
    deadline_at: datetime = Field(
        description="When this person must have been told by. For a breach notice, the "
        "earliest of the 72 hours from awareness the platform promises and the deadlines "
        "of the regimes covering the person (Indonesia's and the Philippines' 72 hours, "
        "from their own anchors); the notifier sends the most urgent first and retries "
        "temporary failures until "
        "NOTIFIER_RETRY_MARGIN_HOURS before it, then gives up (retries_exhausted)."
    )
    resend: int = Field(
        default=0,
        ge=0,
        description="0 for the first request. n > 0: the n-th re-send the security team "
        "asked for (POST /breaches/{id}/resend): a notice that failed is sent again, as a "
        "new attempt of the same notice (same notice_id, same Message-ID); one already "
        "accepted is never sent again.",
    )


class BreachNotificationRequested(Envelope):
    """One affected person must be told about a breach. ``subject_id`` is the user id."""

    EVENT_TYPE: ClassVar[str] = "breach.notification_requested"
    payload: NotificationRequestedPayload


class DeadlinePayload(Payload):
    breach_id: str
    reference: str
    aware_at: datetime
    deadline_at: datetime
    point_hours: int | None = Field(
        default=None, description="For a warning: the hours elapsed it marks (24, 48, 66)."
    )
    affected: int = Field(description="People affected so far.")
    pending_notifications: int = Field(
        description="People not yet notified nor covered by an announcement."
    )


class BreachDeadlineWarning(Envelope):
    """A point of the 72-hour clock passed while people were still not notified."""

    EVENT_TYPE: ClassVar[str] = "breach.deadline_warning"
    payload: DeadlinePayload


class BreachDeadlineMissed(Envelope):
    """The 72-hour deadline passed with people not notified."""

    EVENT_TYPE: ClassVar[str] = "breach.deadline_missed"
    payload: DeadlinePayload


class ObligationPayload(Payload):
    breach_id: str
    reference: str = Field(examples=["BR-2026-0007"])
    regime: str = Field(
        description="The regime's id in the breach service's regimes file.", examples=["sg"]
    )
    recipient: str = Field(description="Whom the duty is toward: regulator or people.")
    regulator: str = Field(description="The regime's regulator, by name.")
    requirement: str = Field(description="required, not_required or undetermined.")
    reason: str = Field(description="Why it is (or is not yet) required.")
    people: int = Field(description="The affected people the regime covers.")
    anchor: str = Field(description="What started its clock (awareness, occurrence, ...).")
    anchor_at: datetime | None = Field(
        default=None, description="When its clock started; none while it waits for an event."
    )
    deadline_at: datetime | None = Field(
        default=None, description="Its deadline; none where the regime sets no fixed time."
    )
    point_at: datetime | None = Field(
        default=None, description="For a warning: the point of the clock it marks."
    )
    disclaimer: str = Field(
        description="Computed from the regime's row (reviewed on the date it says), "
        "not legal advice."
    )


class BreachObligationRequired(Envelope):
    """A breach became notifiable under a regime (Singapore's 500th person, an assessment's
    finding). ``subject_id`` is the breach id."""

    EVENT_TYPE: ClassVar[str] = "breach.obligation_required"
    payload: ObligationPayload


class BreachObligationWarning(Envelope):
    """A warning point of one obligation's clock passed while it was not met."""

    EVENT_TYPE: ClassVar[str] = "breach.obligation_warning"
    payload: ObligationPayload


class BreachObligationMissed(Envelope):
    """One obligation's deadline passed while it was not met."""

    EVENT_TYPE: ClassVar[str] = "breach.obligation_missed"
    payload: ObligationPayload


class NotificationOutcomePayload(Payload):
    notice_id: str = Field(description="The request's notice_id.")
    kind: str = Field(examples=["breach_notice"])
    breach_id: str | None = Field(default=None, description="For a breach notice.")
    user_id: str | None = Field(default=None, description="The person told, if a person.")
    organisation: str | None = Field(
        default=None, description="The organisation told, for a recipient notice."
    )
    channel: str = Field(default="email", examples=["email"])
    at: datetime = Field(description="When the outcome was known.")
    message_id: str | None = Field(
        default=None, description="The RFC 5322 Message-ID, derived from the notice_id."
    )
    attempts: int = Field(description="SMTP attempts made, this one included.")
    uncertain: bool = Field(
        default=False,
        description="Sent again after a crash that may have followed an earlier acceptance: "
        "the person may hold two copies, with the same Message-ID.",
    )
    smtp_code: int | None = Field(default=None, description="The server's reply code.")
    smtp_reply: str | None = Field(default=None, description="The server's reply text.")
    queue_id: str | None = Field(default=None, description="The server's queue id, if it said.")
    reason: str | None = Field(
        default=None,
        description="Why it failed: no_contact, erased, rejected (5xx), retries_exhausted, "
        "bounced.",
    )
    detail: str | None = Field(default=None, description="More about a failure or a bounce.")


class NotificationDelivered(Envelope):
    """A mail server accepted the notice (250): accepted for delivery, not read."""

    EVENT_TYPE: ClassVar[str] = "notification.delivered"
    payload: NotificationOutcomePayload


class NotificationFailed(Envelope):
    """The notice could not be sent, or it bounced after acceptance."""

    EVENT_TYPE: ClassVar[str] = "notification.failed"
    payload: NotificationOutcomePayload
