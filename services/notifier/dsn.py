"""Reading delivery status notifications (RFC 3464), without I/O.

A DSN is a ``multipart/report; report-type=delivery-status`` message: a human part, a
``message/delivery-status`` part (per-message fields, then one block per recipient with
``Action``, ``Status`` and ``Diagnostic-Code``), and the original message or its headers,
which carry the Message-ID the notice was sent with.
"""

import re
from dataclasses import dataclass
from email import message_from_string
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from services.notifier.exceptions import MalformedBounce

ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


@dataclass(frozen=True)
class DeliveryStatus:
    """What a DSN says about the notice it reports on."""

    message_id: str
    action: str
    status: str
    diagnostic: str | None
    recipient: str | None


def _parts(message: Message) -> list[Message]:
    payload = message.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _blocks(part: Message) -> list[Message]:
    """The field blocks of a message/delivery-status part."""
    blocks = _parts(part)
    if blocks:
        return blocks
    raw = part.get_payload(decode=True)
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(part.get_payload())
    return [message_from_string(block) for block in re.split(r"\r?\n\s*\r?\n", text) if block]


def _original_message_id(report: Message) -> str | None:
    for part in _parts(report)[2:] or _parts(report)[1:]:
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner = _parts(part)
            if inner and inner[0].get("Message-ID"):
                return str(inner[0]["Message-ID"]).strip()
        if kind in ("text/rfc822-headers", "message/global-headers"):
            raw = part.get_payload(decode=True)
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else ""
            found = message_from_string(text).get("Message-ID")
            if found:
                return str(found).strip()
    return None


def parse(raw: bytes) -> DeliveryStatus:
    """The status a DSN reports, or :class:`MalformedBounce` naming what is wrong."""
    if not raw.strip():
        raise MalformedBounce("the body is empty; send the raw DSN message", field="body")
    message = BytesParser(policy=compat32).parsebytes(raw)
    if message.get_content_type() != "multipart/report":
        raise MalformedBounce(
            f"not a delivery status notification: Content-Type is "
            f"'{message.get_content_type()}', not multipart/report",
            field="body.Content-Type",
        )
    if (message.get_param("report-type") or "").lower() != "delivery-status":  # type: ignore[union-attr]
        raise MalformedBounce(
            "multipart/report without report-type=delivery-status", field="body.Content-Type"
        )
    status_parts = [p for p in _parts(message) if p.get_content_type() == "message/delivery-status"]
    if not status_parts:
        raise MalformedBounce("no message/delivery-status part", field="body.delivery-status")
    blocks = _blocks(status_parts[0])
    recipients = [b for b in blocks if b.get("Action") or b.get("Final-Recipient")]
    if not recipients:
        raise MalformedBounce(
            "the delivery-status part has no per-recipient fields (Action, Status)",
            field="body.delivery-status",
        )
    chosen = next(
        (b for b in recipients if str(b.get("Action", "")).strip().lower() == "failed"),
        recipients[0],
    )
    action = str(chosen.get("Action", "")).strip().lower()
    if action not in ACTIONS:
        raise MalformedBounce(
            f"Action '{action}' is not one of {', '.join(sorted(ACTIONS))}",
            field="body.delivery-status.Action",
        )
    status = str(chosen.get("Status", "")).strip().split(" ")[0]
    if not _STATUS.match(status):
        raise MalformedBounce(
            f"Status '{status}' is not an RFC 3463 status code (e.g. 5.1.1)",
            field="body.delivery-status.Status",
        )
    message_id = _original_message_id(message)
    if not message_id:
        raise MalformedBounce(
            "the original message's Message-ID is missing (no message/rfc822 or "
            "text/rfc822-headers part with one)",
            field="body.original-message",
        )
    diagnostic = chosen.get("Diagnostic-Code")
    recipient = chosen.get("Final-Recipient") or chosen.get("Original-Recipient")
    return DeliveryStatus(
        message_id=message_id,
        action=action,
        status=status,
        diagnostic=" ".join(str(diagnostic).split()) if diagnostic else None,
        recipient=str(recipient).strip() if recipient else None,
    )
