"""What the audit service runs, built once: the typed runtime and its bootstrap."""

from dataclasses import dataclass
from datetime import timedelta

from services.audit import ingest, service
from services.audit.config import AuditSettings
from shared.app import Infrastructure, Runtime
from shared.db import connect_raw


@dataclass(kw_only=True)
class AuditRuntime(Runtime):
    """The running audit service: the log's state, its signer, reader and writer."""

    settings: AuditSettings
    audit_log: service.AuditLog
    signer: service.Signer
    reader: ingest.Reader
    writer: ingest.Writer
    clock: service.Clock = service.utc_now

    async def start(self) -> None:
        """Start the reader, and the jobs that sign tree heads and check consents."""
        await self.reader.start()
        self.readiness["log_writer"] = self.writer.problem
        settings = self.settings
        grace = timedelta(seconds=settings.check_grace_seconds)
        unknown_after = timedelta(seconds=settings.check_unknown_after_seconds)
        self.every(
            settings.tree_head_seconds,
            "tree_head",
            lambda: service.sign_tree_head(self.sessions, self.audit_log, self.signer, self.clock),
        )
        self.every(
            settings.check_seconds,
            "consent_check",
            lambda: service.check_settled(
                self.sessions, grace=grace, unknown_after=unknown_after, clock=self.clock
            ),
        )

    async def stop(self) -> None:
        """Let the writer finish what it holds, then stop the reader and the jobs."""
        await self.writer.close()
        self.reader.close()
        await super().stop()


async def bootstrap(
    infra: Infrastructure, *, clock: service.Clock = service.utc_now
) -> AuditRuntime:
    """Load the log's edge and build the reader, the writer and the signer; ``clock``
    is where the consent check takes the time from."""
    settings = infra.settings
    if not isinstance(settings, AuditSettings):
        raise TypeError("the audit service runs on AuditSettings")
    audit_log = service.AuditLog()
    await service.load(infra.sessions, audit_log)
    return AuditRuntime(
        **{**vars(infra), "settings": settings},
        audit_log=audit_log,
        signer=service.Signer.from_seed(settings.signing_seed()),
        reader=ingest.Reader(workers=settings.ingest_workers),
        writer=ingest.Writer(
            lambda: connect_raw(settings.database_url, settings.schema_name), audit_log
        ),
        clock=clock,
    )
