"""API schemas of the notifier (its tables are plain SQL, in ``migrations/`` and
``repository.py``, since the sending path works on arrays of rows)."""

from datetime import datetime

from pydantic import BaseModel, Field

from services.notifier.domain import State


class Delivery(BaseModel):
    """What the notifier knows about one notice."""

    notice_id: str = Field(description="The request's idempotency key.")
    kind: str = Field(examples=["breach_notice"])
    breach_id: str | None
    user_id: str | None
    organisation: str | None = Field(
        default=None, description="The organisation told, for a recipient notice."
    )
    message_id: str = Field(description="The Message-ID every copy of the notice carried.")
    state: State = Field(
        description="claimed: being sent, no outcome yet; accepted: a mail server answered "
        "250 (accepted for delivery, not read); failed: not sent (see reason); bounced: "
        "accepted, then reported undeliverable."
    )
    uncertain: bool = Field(
        description="Sent again after a claim with no recorded outcome: the person may "
        "hold two copies, with the same Message-ID."
    )
    claims: int = Field(description="Times the notice was claimed (more than 1: resumed).")
    attempts: int = Field(description="SMTP attempts, every claim included.")
    language: str | None = Field(description="The template language used.")
    requested_at: datetime
    claimed_at: datetime
    started_at: datetime | None = Field(
        description="When it was last handed to the SMTP server (a send began)."
    )
    accepted_at: datetime | None
    failed_at: datetime | None
    bounced_at: datetime | None
    smtp_code: int | None = Field(description="The server's last reply code.")
    smtp_reply: str | None = Field(description="The server's last reply text.")
    queue_id: str | None = Field(description="The server's queue id, when its reply named one.")
    reason: str | None = Field(
        description="no_contact, erased, rejected, retries_exhausted or bounced."
    )
    detail: str | None
    bounce_status: str | None = Field(description="The DSN's status code (RFC 3463).")
    resends: int = Field(
        default=0, description="Re-sends the security team asked for that reopened it."
    )


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )


class DeliverySummary(BaseModel):
    breach_id: str
    counts: dict[str, int] = Field(description="Notices in each state.")
    uncertain: int = Field(description="Notices sent again after a crash or a rebalance.")
    reclaimed: int = Field(description="Notices claimed more than once.")


class BounceAnswer(BaseModel):
    notice_id: str
    message_id: str
    effect: str = Field(
        description="bounced: the notice is now failed (notification.failed, reason "
        "bounced); already: it had failed before; noted: the DSN reports no failure."
    )
    action: str = Field(examples=["failed"])
    status: str = Field(examples=["5.1.1"])
    diagnostic: str | None
