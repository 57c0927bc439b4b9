"""The notices requests ask for: their key, their recipient, what their template says."""

from services.notifier.domain import Notice
from shared.events import BreachNotificationRequested, RecipientNotificationRequested


def notice_of(event: BreachNotificationRequested) -> Notice:
    """The breach notice a request asks for, to the person it names."""
    p = event.payload
    context = p.model_dump(exclude={"notice_id", "kind", "user_id", "deadline_at", "resend"})
    return Notice(
        notice_id=p.notice_id,
        kind=p.kind,
        user_id=p.user_id,
        breach_id=p.breach_id,
        requested_at=event.occurred_at,
        context=context,
        deadline_at=p.deadline_at,
        resend=p.resend,
    )


def recipient_notice_of(event: RecipientNotificationRequested, *, audit_url: str) -> Notice:
    """The notice to an organisation's privacy contact about one person's data; it says
    which categories and when, never a value, and where the organisation answers."""
    p = event.payload
    context = p.model_dump(exclude={"notice_id", "kind"})
    context["action"] = p.action.value
    context["confirm_url"] = f"{audit_url.rstrip('/')}/recipient-requests/{p.request_id}"
    return Notice(
        notice_id=p.notice_id,
        kind=p.kind,
        user_id=p.user_id,
        breach_id=None,
        requested_at=event.occurred_at,
        context=context,
        organisation=p.organisation,
        deadline_at=p.respond_by,
    )
