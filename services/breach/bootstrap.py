"""What the breach service runs, built once: the typed runtime and its bootstrap."""

from dataclasses import dataclass

from services.breach.config import BreachSettings
from shared.app import Infrastructure, Runtime


@dataclass(kw_only=True)
class BreachRuntime(Runtime):
    """The running breach service; its own parts become typed fields here."""

    settings: BreachSettings


async def bootstrap(infra: Infrastructure) -> BreachRuntime:
    """Build the runtime."""
    settings = infra.settings
    if not isinstance(settings, BreachSettings):
        raise TypeError("the breach service runs on BreachSettings")
    return BreachRuntime(**{**vars(infra), "settings": settings})
