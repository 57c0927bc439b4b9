"""What the breach service runs, built once: the typed runtime and its bootstrap."""

from dataclasses import dataclass

from services.breach import countdown, duties, obligation_clock, regimes, resolution
from services.breach.clients import AuditClient
from services.breach.config import BreachSettings, ClockKind
from services.breach.triage import service as triage
from shared.app import Infrastructure, Runtime
from shared.clock import Clock, StoredClock, SystemClock
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(kw_only=True)
class BreachRuntime(Runtime):
    """The running breach service: its clock, the audit client, and its two jobs."""

    settings: BreachSettings
    clock: Clock
    audit: AuditClient
    regimes: regimes.Regimes
    """The breach-notification regimes, read and checked at start-up."""

    async def start(self) -> None:
        """Start resolving scopes and running the 72-hour clock."""
        self.every(self.settings.resolve_seconds, "resolve", self.resolve)
        self.every(self.settings.clock_tick_seconds, "clock", self.tick)
        self.every(self.settings.triage_tick_seconds, "triage", self.escalate)

    async def stop(self) -> None:
        """Stop the jobs, then close the audit client."""
        await super().stop()
        await self.audit.close()

    @property
    def duty(self) -> duties.Duty:
        """The regimes and the controller's establishment, as the derivation needs them."""
        return duties.Duty(self.regimes, tuple(self.settings.establishment))

    async def resolve(self) -> int:
        """Resolve every scope waiting for it, page by page."""
        return await resolution.resolve_pending(
            self.sessions,
            self.audit,
            self.clock,
            size=self.settings.resolve_page_size,
            duty=self.duty,
        )

    async def escalate(self) -> int:
        """Escalate the incidents nobody triaged in time."""
        return await triage.escalate(self.sessions, self.clock, self.settings.triage_escalate_after)

    async def tick(self) -> int:
        """Fire the clock's warnings and missed deadlines that are due: the breach's own
        72 hours, then each obligation's."""
        fired = await countdown.tick(self.sessions, self.clock, self.settings.warning_hours)
        return fired + await obligation_clock.tick(self.sessions, self.clock, self.duty)


async def bootstrap(
    infra: Infrastructure, *, clock: Clock | None = None, audit: AuditClient | None = None
) -> BreachRuntime:
    """Build the runtime; the clock and the audit client follow the settings unless given."""
    settings = infra.settings
    if not isinstance(settings, BreachSettings):
        raise TypeError("the breach service runs on BreachSettings")
    # A bad row stops the start here, naming the row and the field (RegimesInvalid).
    loaded = regimes.load(settings.regimes_file or regimes.REGIMES_FILE)
    log.info("breach.regimes_loaded", regimes=len(loaded), establishment=settings.establishment)
    if clock is None:
        clock = StoredClock(infra.engine) if settings.clock is ClockKind.STORED else SystemClock()
    if audit is None:
        audit = AuditClient(
            settings, base_url=settings.audit_url, timeout=settings.audit_timeout_seconds
        )
    return BreachRuntime(
        **{**vars(infra), "settings": settings}, clock=clock, audit=audit, regimes=loaded
    )
