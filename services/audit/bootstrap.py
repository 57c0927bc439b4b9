"""What the audit service runs, built once: the typed runtime and its bootstrap."""

from dataclasses import dataclass, field
from datetime import timedelta

from services.audit import checks, ingest, ingestion, signing
from services.audit.config import AuditSettings
from services.audit.recipients import jobs as recipients
from services.audit.recipients.settings import ClockKind
from shared.app import Infrastructure, Runtime
from shared.clock import Clock, StoredClock, SystemClock
from shared.db import connect_raw
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(kw_only=True)
class AuditRuntime(Runtime):
    """The running audit service: the log's state, its signer, reader and writer."""

    settings: AuditSettings
    audit_log: ingestion.AuditLog
    signer: signing.Signer
    reader: ingest.Reader
    writer: ingest.Writer
    clock: checks.Clock = checks.utc_now
    recipients_clock: Clock = field(default_factory=SystemClock)
    """Where recipient notices take the time from (settling, answers, escalation)."""
    recipients_caught_up: bool = False

    async def start(self) -> None:
        """Start the reader, and the jobs that sign tree heads, check consents and tell
        recipients."""
        await self.reader.start()
        self.readiness["log_writer"] = self.writer.problem
        settings = self.settings
        grace = timedelta(seconds=settings.check_grace_seconds)
        unknown_after = timedelta(seconds=settings.check_unknown_after_seconds)
        self.every(
            settings.tree_head_seconds,
            "tree_head",
            lambda: signing.sign_tree_head(self.sessions, self.audit_log, self.signer, self.clock),
        )
        self.every(
            settings.check_seconds,
            "consent_check",
            lambda: checks.check_settled(
                self.sessions, grace=grace, unknown_after=unknown_after, clock=self.clock
            ),
        )
        self.every(settings.recipients_tick_seconds, "recipients", self.tell_recipients)

    async def tell_recipients(self) -> None:
        """Ask the recipients of what has settled, then escalate the silent past their
        time; the first round after a start catches up on everything."""
        full = not self.recipients_caught_up
        await recipients.sweep(self.sessions, self.recipients_clock, self.settings, full=full)
        await recipients.escalate(self.sessions, self.recipients_clock, self.settings, full=full)
        self.recipients_caught_up = True

    async def stop(self) -> None:
        """Let the writer finish what it holds, then stop the reader and the jobs."""
        await self.writer.close()
        self.reader.close()
        await super().stop()


async def bootstrap(
    infra: Infrastructure,
    *,
    clock: checks.Clock = checks.utc_now,
    recipients_clock: Clock | None = None,
) -> AuditRuntime:
    """Load the log's edge and build the reader, the writer and the signer; ``clock``
    is where the consent check takes the time from, ``recipients_clock`` the recipient
    notices (by default as the settings say)."""
    settings = infra.settings
    if not isinstance(settings, AuditSettings):
        raise TypeError("the audit service runs on AuditSettings")
    if ingestion.audit_native is None:
        log.warning(
            "audit.native_missing",
            reading="python, several times slower a record",
            build="make venv, with cargo on PATH (https://rustup.rs)",
        )
    audit_log = ingestion.AuditLog()
    await ingestion.load(infra.sessions, audit_log)
    return AuditRuntime(
        **{**vars(infra), "settings": settings},
        audit_log=audit_log,
        signer=signing.Signer.from_seed(settings.signing_seed()),
        reader=ingest.Reader(workers=settings.ingest_workers),
        writer=ingest.Writer(
            lambda: connect_raw(
                settings.database_url, settings.schema_name, topic_prefix=settings.topic_prefix
            ),
            audit_log,
        ),
        clock=clock,
        recipients_clock=recipients_clock or _recipients_clock(infra, settings),
    )


def _recipients_clock(infra: Infrastructure, settings: AuditSettings) -> Clock:
    if settings.recipients_clock is ClockKind.STORED:
        return StoredClock(infra.engine)
    return SystemClock()
