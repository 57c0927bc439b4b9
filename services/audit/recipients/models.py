"""The API schemas of recipient notices."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from services.audit.models import DisclosurePage
from services.audit.recipients.domain import Answer, State
from shared.events import RecipientAction

Delivery = Literal["pending", "delivered", "failed"]


class RecipientRequestOut(BaseModel):
    """One organisation asked to act on one person's data, and where that stands."""

    request_id: UUID
    user_id: str = Field(description="The person, by the (pseudonymous) id it received.")
    organisation: str = Field(examples=["ph-philexport"])
    action: RecipientAction
    data_categories: list[str] = Field(
        description="Erase, restrict: what it received; rectify: which of those were "
        "corrected (names only)."
    )
    last_received_at: datetime = Field(description="When it last received them.")
    requested_at: datetime = Field(description="When the person exercised the right.")
    created_at: datetime = Field(description="When the request was made and sent.")
    respond_by: datetime = Field(description="created_at plus the time to answer.")
    state: State = Field(description="outstanding, overdue (past respond_by), confirmed, kept.")
    answer: Answer | None = None
    reference: str | None = Field(
        default=None, description="For 'kept': the person's independent authorisation."
    )
    answered_by: str | None = None
    answered_at: datetime | None = None
    escalated_at: datetime | None = Field(
        default=None, description="When recipient.request_escalated was sent, if it was."
    )
    delivery: Delivery = Field(description="The notifier's latest outcome for the notice.")
    delivery_at: datetime | None = None
    delivery_reason: str | None = Field(default=None, description="Why a delivery failed.")


class RecipientRequestPage(BaseModel):
    """A page of requests in the order they were made."""

    items: list[RecipientRequestOut]
    next_cursor: int | None = Field(
        description="Pass as `cursor` for the next page; null when this page is the last."
    )


class KeepBody(BaseModel):
    """The organisation keeps the data under an independent authorisation of the person."""

    reference: str = Field(
        min_length=1,
        max_length=500,
        pattern=r"^[^\x00]*\S[^\x00]*$",
        description="Which authorisation: a contract, a consent record, a case number.",
        examples=["Membership contract M-2026-0142, clause 7"],
    )


class RecipientNotice(BaseModel):
    """What the person's report shows of one request: who was told, when, and the answer."""

    organisation: str
    action: RecipientAction
    data_categories: list[str]
    requested_at: datetime
    told_at: datetime = Field(description="When the request was made and sent.")
    delivery: Delivery
    delivered_at: datetime | None = Field(description="When the notice was accepted, if it was.")
    state: State
    answered_at: datetime | None
    reference: str | None = Field(description="For 'kept': the authorisation it relies on.")


class SubjectReport(DisclosurePage):
    """Who received my data (a page of disclosures) and whom the platform told of my
    erasure, rectification or restriction (every notice, on every page)."""

    recipient_notices: list[RecipientNotice] = Field(default_factory=list)
