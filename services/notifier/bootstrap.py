"""What the notifier service runs, built once: the typed runtime and its bootstrap."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from services.notifier.config import NotifierSettings
from services.notifier.messages import Templates
from services.notifier.sender import Sender
from services.notifier.service.sending import Clock, Dispatcher
from shared.app import Infrastructure, Runtime
from shared.db import connect_raw


@dataclass(kw_only=True)
class NotifierRuntime(Runtime):
    """The running notifier: its templates, its SMTP sender and the dispatcher."""

    settings: NotifierSettings
    templates: Templates
    sender: Sender
    dispatcher: Dispatcher
    clock: Clock

    async def start(self) -> None:
        """Report the dispatcher's health on /readyz."""
        self.readiness["dispatcher"] = self.dispatcher.problem

    async def stop(self) -> None:
        """Let the batches being sent finish, then close the SMTP sessions."""
        await self.dispatcher.close()
        await super().stop()


def utc_now() -> datetime:
    return datetime.now(UTC)


async def bootstrap(
    infra: Infrastructure, *, clock: Clock = utc_now, sender: Sender | None = None
) -> NotifierRuntime:
    """Check every template by rendering it, and build the sender and the dispatcher."""
    settings = infra.settings
    if not isinstance(settings, NotifierSettings):
        raise TypeError("the notifier service runs on NotifierSettings")
    templates = Templates.load(settings.templates_dir)  # a broken template stops the start
    sender = sender or Sender(settings)
    dispatcher = Dispatcher(
        settings=settings,
        sessions=infra.sessions,
        sender=sender,
        templates=templates,
        clock=clock,
        instance=uuid.uuid4().hex,
        connect=lambda: connect_raw(
            settings.database_url, settings.schema_name, topic_prefix=settings.topic_prefix
        ),
    )
    return NotifierRuntime(
        **{**vars(infra), "settings": settings},
        templates=templates,
        sender=sender,
        dispatcher=dispatcher,
        clock=clock,
    )
