"""The mail server's outages as events: ``notifier.smtp_unavailable`` when one begins,
``notifier.smtp_recovered`` when it ends, staged in the outbox like every other event."""

from services.notifier.mailserver import Outage
from shared.db import Sessions, transaction
from shared.events import (
    Envelope,
    SmtpRecovered,
    SmtpRecoveredPayload,
    SmtpUnavailable,
    SmtpUnavailablePayload,
)
from shared.outbox import stage

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


async def record(sessions: Sessions, outage: Outage) -> None:
    """Stage the outage's event in the outbox (the session's commit wakes the relay)."""
    async with transaction(sessions) as session:
        stage(session, outage_event(outage))
