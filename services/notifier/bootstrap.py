"""What the notifier service runs, built once: the typed runtime and its bootstrap."""

from dataclasses import dataclass

from services.notifier.config import NotifierSettings
from shared.app import Infrastructure, Runtime


@dataclass(kw_only=True)
class NotifierRuntime(Runtime):
    """The running notifier service; its own parts become typed fields here."""

    settings: NotifierSettings


async def bootstrap(infra: Infrastructure) -> NotifierRuntime:
    """Build the runtime."""
    settings = infra.settings
    if not isinstance(settings, NotifierSettings):
        raise TypeError("the notifier service runs on NotifierSettings")
    return NotifierRuntime(**{**vars(infra), "settings": settings})
