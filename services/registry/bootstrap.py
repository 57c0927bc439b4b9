"""What the registry runs, built once: the typed runtime and its bootstrap."""

from dataclasses import dataclass, field

from services.registry import profiles
from services.registry.clients import ConsentClient
from services.registry.config import RegistrySettings
from shared.app import Infrastructure, Runtime
from shared.clock import Clock, SystemClock
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(kw_only=True)
class RegistryRuntime(Runtime):
    """The running registry: its infrastructure, the consent client, the clock its use
    cases stamp with, and the sweep."""

    settings: RegistrySettings
    consent: ConsentClient
    clock: Clock = field(default_factory=SystemClock)

    async def start(self) -> None:
        """Open the consent client and start the sweep of lapsed visibility consents."""
        if self.settings.outbox_retain_published:
            log.warning(
                "registry.outbox_retains_personal_data",
                detail="published outbox rows keep personal data; erasure will not reach them",
            )
        await self.consent.start()
        self.every(self.settings.visibility_sweep_seconds, "visibility_sweep", self.sweep)

    async def stop(self) -> None:
        """Stop the sweep, then close the consent client."""
        await super().stop()
        await self.consent.close()

    async def sweep(self) -> None:
        """Unpublish profiles whose visibility consent ran out."""
        taken_down = await profiles.unpublish_lapsed(self.sessions, self.clock)
        if taken_down:
            log.info("registry.profiles_unpublished", reason="consent_expired", count=taken_down)


async def bootstrap(
    infra: Infrastructure, *, consent: ConsentClient | None = None, clock: Clock | None = None
) -> RegistryRuntime:
    """Build the runtime; the consent client talks to the configured service and the clock
    is the system's, unless given."""
    settings = infra.settings
    if not isinstance(settings, RegistrySettings):
        raise TypeError("the registry runs on RegistrySettings")
    if consent is None:
        consent = ConsentClient(
            settings, base_url=settings.consent_url, timeout=settings.consent_timeout_seconds
        )
    return RegistryRuntime(
        **{**vars(infra), "settings": settings}, consent=consent, clock=clock or SystemClock()
    )
