"""Events about telling the recipients of a person's data (GDPR Art. 17(2) and 19).

When a person erases, rectifies or restricts their data, every organisation that was
allowed to receive it is asked, once, to act: one request per (person, organisation,
action), keyed by ``request_id``. The notifier sends it to the organisation's privacy
contact and answers with the usual ``notification.delivered`` / ``notification.failed``
under ``notice_id`` (``recipient:<request_id>``) and ``kind`` ``recipient_notice``.
``subject_id`` is the person's user id (pseudonymous; it outlives erasure).
"""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Envelope, Payload

RECIPIENT_NOTICE_KIND = "recipient_notice"
"""The notifier's template, and the ``kind`` of the outcomes of these notices."""


class RecipientAction(StrEnum):
    """What the recipient is asked to do."""

    ERASE = "erase"
    RECTIFY = "rectify"
    RESTRICT = "restrict"


class RecipientNotificationRequestedPayload(Payload):
    notice_id: str = Field(
        description="One email per notice_id, ever: 'recipient:<request_id>'.",
        examples=["recipient:9b2e…"],
    )
    kind: str = Field(default=RECIPIENT_NOTICE_KIND, description="The notifier's template.")
    request_id: str
    organisation: str = Field(description="The recipient's slug; the notifier knows its contact.")
    user_id: str = Field(description="The person, by the id the organisation received.")
    action: RecipientAction
    data_categories: list[str] = Field(
        description="Erase, restrict: what this organisation received. Rectify: which of "
        "those were corrected (names only, never the new values)."
    )
    last_received_at: datetime = Field(description="When it last received the person's data.")
    requested_at: datetime = Field(description="When the person exercised the right.")
    respond_by: datetime = Field(description="Confirm by then, or the request is escalated.")


class RecipientNotificationRequested(Envelope):
    """One organisation must be asked to act on one person's data."""

    EVENT_TYPE: ClassVar[str] = "recipient.notification_requested"
    payload: RecipientNotificationRequestedPayload


class RecipientEscalatedPayload(Payload):
    request_id: str
    organisation: str
    user_id: str
    action: RecipientAction
    requested_at: datetime
    respond_by: datetime
    escalated_at: datetime


class RecipientRequestEscalated(Envelope):
    """A recipient did not answer in time; the security team and the admins follow up."""

    EVENT_TYPE: ClassVar[str] = "recipient.request_escalated"
    payload: RecipientEscalatedPayload
