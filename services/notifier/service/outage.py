"""The mail server's outages as events: ``notifier.smtp_unavailable`` when one begins,
``notifier.smtp_recovered`` when it ends, staged in the outbox like every other event."""

from services.notifier import repository
from services.notifier.mailserver import Outage
from shared import outbox
from shared.db import Sessions, transaction
from shared.events import (
    Envelope,
    SmtpRecovered,
    SmtpRecoveredPayload,
    SmtpUnavailable,
    SmtpUnavailablePayload,
)
from shared.telemetry import current_trace_headers

PRODUCER = "notifier"


def outage_event(outage: Outage) -> Envelope:
    """The event an outage's beginning (``at`` None) or end is."""
    if outage.at is None:
        return SmtpUnavailable.create(
            producer=PRODUCER,
            subject_id=outage.server,
            occurred_at=outage.since,
            payload=SmtpUnavailablePayload(
                server=outage.server, since=outage.since, reason=outage.reason
            ),
        )
    return SmtpRecovered.create(
        producer=PRODUCER,
        subject_id=outage.server,
        occurred_at=outage.at,
        payload=SmtpRecoveredPayload(
            server=outage.server,
            since=outage.since,
            at=outage.at,
            down_seconds=(outage.at - outage.since).total_seconds(),
            reason=outage.reason,
            probes=outage.probes,
        ),
    )


async def record(sessions: Sessions, outage: Outage, *, topic_prefix: str) -> None:
    """Stage the outage's event in the outbox."""
    async with transaction(sessions) as session:
        await repository.stage_events(
            session,
            [outage_event(outage)],
            topic_prefix=topic_prefix,
            headers=current_trace_headers(),
        )
    outbox.wake()
