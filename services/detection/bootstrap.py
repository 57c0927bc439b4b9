"""What the detection service runs, built once: the typed runtime and its bootstrap."""

from dataclasses import dataclass

from services.detection import service
from services.detection.config import ClockKind, DetectionSettings
from services.detection.watch import Watch
from shared.app import Infrastructure, Runtime
from shared.clock import Clock, StoredClock, SystemClock


@dataclass(kw_only=True)
class DetectionRuntime(Runtime):
    """The running detection service: its clock and what it keeps in memory."""

    settings: DetectionSettings
    clock: Clock
    watch: Watch

    async def start(self) -> None:
        """Forget hourly history older than the baselines look back, once an hour."""
        self.every(3600.0, "prune", self.prune)

    async def prune(self) -> int:
        return await service.prune(self.sessions, self.clock, self.settings.baseline_weeks)


async def bootstrap(infra: Infrastructure, *, clock: Clock | None = None) -> DetectionRuntime:
    """Build the runtime; the clock follows the settings unless given."""
    settings = infra.settings
    if not isinstance(settings, DetectionSettings):
        raise TypeError("the detection service runs on DetectionSettings")
    if clock is None:
        clock = StoredClock(infra.engine) if settings.clock is ClockKind.STORED else SystemClock()
    return DetectionRuntime(
        **{**vars(infra), "settings": settings}, clock=clock, watch=Watch(settings)
    )
