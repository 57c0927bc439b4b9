"""What the notifier service runs, built once: the typed runtime and its bootstrap."""

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from services.notifier.config import NotifierSettings
from services.notifier.mailserver import MailServer
from services.notifier.messages import Templates
from services.notifier.sender import Sender
from services.notifier.service import outage
from services.notifier.service.sending import Clock, Dispatcher
from shared.app import Infrastructure, Runtime
from shared.db import connect_raw


@dataclass(kw_only=True)
class NotifierRuntime(Runtime):
    """The running notifier: its templates, its SMTP sender, the mail server's gate and
    the dispatcher."""

    settings: NotifierSettings
    templates: Templates
    sender: Sender
    mail_server: MailServer
    dispatcher: Dispatcher
    clock: Clock

    async def start(self) -> None:
        """Report the dispatcher's health and the mail server's on /readyz."""
        self.readiness["dispatcher"] = self.dispatcher.problem
        self.readiness["smtp"] = self.mail_server.problem

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

    mail_server = MailServer(
        server=f"{settings.smtp_host}:{settings.smtp_port}",
        probe=sender.pool.probe,
        clock=clock,
        first=settings.smtp_probe_seconds,
        longest=settings.smtp_probe_max_seconds,
        poll=settings.clock_poll_seconds,
        on_change=functools.partial(outage.record, infra.sessions),
    )
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
        server=mail_server,
    )
    return NotifierRuntime(
        **{**vars(infra), "settings": settings},
        templates=templates,
        sender=sender,
        mail_server=mail_server,
        dispatcher=dispatcher,
        clock=clock,
    )
