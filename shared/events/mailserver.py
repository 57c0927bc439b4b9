"""Events about the notifier's mail server as a whole, not about one notice.

When the SMTP server fails as a server (a session cannot be opened: connection refused,
time-out, 421, a TLS or authentication failure), the notifier stops handing out notices
and probes it; ``notifier.smtp_unavailable`` says so once, ``notifier.smtp_recovered``
once it answers again. The breach service shows them on every open breach.
"""

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Envelope, Payload


class SmtpUnavailablePayload(Payload):
    server: str = Field(description="host:port of the mail server.", examples=["127.0.0.1:2525"])
    since: datetime = Field(description="When the first session could not be opened.")
    reason: str = Field(
        description="What the failure was.", examples=["ConnectionRefusedError: [Errno 111]"]
    )


class SmtpUnavailable(Envelope):
    """The mail server cannot be reached; notices wait (spending no attempts). ``subject_id``
    is the server (host:port): no single person."""

    EVENT_TYPE: ClassVar[str] = "notifier.smtp_unavailable"
    payload: SmtpUnavailablePayload


class SmtpRecoveredPayload(Payload):
    server: str = Field(description="host:port of the mail server.", examples=["127.0.0.1:2525"])
    since: datetime = Field(description="When it became unreachable.")
    at: datetime = Field(description="When a probe found it answering again.")
    down_seconds: float = Field(description="How long it was unreachable.")
    reason: str = Field(description="The failure that began the outage.")
    probes: int = Field(description="Probes made during the outage, the one that succeeded too.")


class SmtpRecovered(Envelope):
    """The mail server answers again; the notices that waited are being sent."""

    EVENT_TYPE: ClassVar[str] = "notifier.smtp_recovered"
    payload: SmtpRecoveredPayload
