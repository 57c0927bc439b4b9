"""What the audit service runs, built once: the typed runtime and its bootstrap."""

from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from services.audit import checks, ingest, ingestion, signing, tiles
from services.audit.config import AuditSettings
from services.audit.recipients import jobs as recipients
from services.audit.recipients.settings import ClockKind
from services.audit.witnesses import Submitter, Witness
from shared.app import Infrastructure, Runtime
from shared.clock import Clock, StoredClock, SystemClock
from shared.db import connect_raw
from shared.logging import get_logger
from shared.tlog.note import NoteSigner

log = get_logger(__name__)


@dataclass(kw_only=True)
class AuditRuntime(Runtime):
    """The running audit service: the log's state, its signer, reader and writer."""

    settings: AuditSettings
    audit_log: ingestion.AuditLog
    signer: signing.Signer
    note_signer: NoteSigner
    """The same key, signing checkpoints as notes named by the log's origin."""
    reader: ingest.Reader
    writer: ingest.Writer
    signed_size: tiles.SignedSize = field(default_factory=tiles.SignedSize)
    full_tiles: tiles.FullTiles = field(default_factory=tiles.FullTiles)
    """The largest signed size seen, so that a covered tile is served without a query."""
    witnesses: Submitter | None = None
    """Submits checkpoints to the configured witnesses (none: no witnesses)."""
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
        if self.witnesses is not None:
            self.every(settings.witness_seconds, "witnesses", self.witnesses.round)

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
        if self.witnesses is not None:
            await self.witnesses.close()


async def bootstrap(
    infra: Infrastructure,
    *,
    clock: checks.Clock = checks.utc_now,
    recipients_clock: Clock | None = None,
    witness_client: httpx.AsyncClient | None = None,
) -> AuditRuntime:
    """Load the log's edge and build the reader, the writer and the signer; ``clock``
    is where the consent check takes the time from, ``recipients_clock`` the recipient
    notices (by default as the settings say), ``witness_client`` how witnesses are
    called (by default over HTTP)."""
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
    signer = signing.Signer.from_seed(settings.signing_seed())
    note_signer = signer.note_signer(settings.log_origin)
    submitter = None
    if settings.witnesses:
        submitter = Submitter(
            infra.sessions,
            note_signer,
            [Witness.configured(w) for w in settings.witnesses],
            **({"client": witness_client} if witness_client else {}),
        )
    return AuditRuntime(
        **{**vars(infra), "settings": settings},
        audit_log=audit_log,
        signer=signer,
        note_signer=note_signer,
        witnesses=submitter,
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
