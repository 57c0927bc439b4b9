"""Sending over SMTP with aiosmtplib: a small pool of reused sessions, a rate limit, and
retries of what is temporary.

At most ``smtp_sessions`` sessions are open to the server at once; each sends many
messages, and is replaced after ``smtp_messages_per_session`` or when it breaks. A
temporary failure (a 4xx reply, a dropped connection, a time-out) is tried again with
exponential backoff and full jitter (tenacity), up to ``smtp_max_attempts``; a permanent
one (5xx) is final at once. A session is back in the pool while a message waits to retry.
"""

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib.typing import SMTPStatus
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from services.notifier.config import NotifierSettings
from services.notifier.domain import Severity, classify, queue_id
from shared.logging import get_logger

log = get_logger(__name__)


class SendFailure(Exception):
    """One attempt failed; ``severity`` says whether another may succeed."""

    def __init__(self, severity: Severity, code: int | None, reply: str) -> None:
        super().__init__(f"{code} {reply}" if code else reply)
        self.severity = severity
        self.code = code
        self.reply = reply


class TemporaryFailure(SendFailure):
    def __init__(self, code: int | None, reply: str) -> None:
        super().__init__(Severity.TEMPORARY, code, reply)


class PermanentFailure(SendFailure):
    def __init__(self, code: int | None, reply: str) -> None:
        super().__init__(Severity.PERMANENT, code, reply)


@dataclass(frozen=True)
class SendResult:
    """How sending one message ended, after every attempt."""

    accepted: bool
    attempts: int
    code: int | None
    reply: str
    queue_id: str | None = None
    severity: Severity | None = None


class RateLimit:
    """At most ``rate`` starts a second, spaced evenly (0: unlimited)."""

    def __init__(self, rate: float, clock: Callable[[], float] | None = None) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._next = 0.0

    async def wait(self) -> None:
        """Wait for this caller's slot."""
        if not self.interval:
            return
        now = self._clock() if self._clock else asyncio.get_running_loop().time()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class SessionPool:
    """Up to ``size`` SMTP sessions, each reused for many messages."""

    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.smtp_sessions)
        self._idle: list[tuple[aiosmtplib.SMTP, int]] = []
        self.opened = 0

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls,
            start_tls=s.smtp_starttls,
            validate_certs=s.smtp_validate_certs,
            timeout=s.smtp_timeout_seconds,
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[aiosmtplib.SMTP]:
        """A connected session; a broken one is dropped, a worn one closed with QUIT."""
        async with self._slots:
            smtp, sent = self._idle.pop() if self._idle else (None, 0)
            if smtp is None or not smtp.is_connected:
                smtp, sent = self._client(), 0
                try:
                    await smtp.connect()
                except aiosmtplib.SMTPResponseException as exc:
                    smtp.close()
                    raise TemporaryFailure(exc.code, f"session refused: {exc.message}") from exc
                except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
                    smtp.close()
                    raise TemporaryFailure(None, f"cannot connect: {exc}") from exc
                self.opened += 1
            healthy = False
            try:
                yield smtp
                healthy = True
            except TemporaryFailure:
                healthy = smtp.is_connected
                raise
            except PermanentFailure:
                healthy = smtp.is_connected
                raise
            finally:
                sent += 1
                if healthy and smtp.is_connected and sent < self.settings.smtp_messages_per_session:
                    self._idle.append((smtp, sent))
                else:
                    # Closed inside the slot: the server never sees more sessions than allowed.
                    await _close(smtp)

    async def close(self) -> None:
        """QUIT every idle session."""
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            await _close(smtp)


async def _close(smtp: aiosmtplib.SMTP) -> None:
    if smtp.is_connected:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(smtp.quit(), 2.0)
    smtp.close()


class Sender:
    """Sends one message at a time per session; many messages at once over the pool."""

    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings
        self.pool = SessionPool(settings)
        self.limit = RateLimit(settings.smtp_rate_per_second)
        self._mail_from = b"FROM:<" + settings.from_address.encode() + b">"

    def _retrying(self) -> AsyncRetrying:
        s = self.settings
        return AsyncRetrying(
            stop=stop_after_attempt(s.smtp_max_attempts),
            wait=wait_random_exponential(
                multiplier=s.smtp_backoff_seconds, max=s.smtp_backoff_max_seconds
            ),
            retry=retry_if_exception_type(TemporaryFailure),
            reraise=True,
        )

    async def send(self, recipient: str, data: bytes) -> SendResult:
        """Send ``data`` to ``recipient``: accepted, or the last failure and its attempts."""
        attempts = 0
        try:
            async for attempt in self._retrying():
                with attempt:
                    attempts += 1
                    code, reply = await self._once(recipient, data)
                    return SendResult(True, attempts, code, reply, queue_id(reply))
        except SendFailure as exc:
            return SendResult(False, attempts, exc.code, exc.reply, severity=exc.severity)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _once(self, recipient: str, data: bytes) -> tuple[int, str]:
        async with self.pool.session() as smtp:
            await self.limit.wait()
            try:
                return 250, await self._transaction(smtp, recipient, data)
            except aiosmtplib.SMTPResponseException as exc:
                raise _failure(exc.code, exc.message) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                smtp.close()  # a half-spoken session is not reused
                raise TemporaryFailure(None, f"{type(exc).__name__}: {exc}") from exc

    async def _transaction(self, smtp: aiosmtplib.SMTP, recipient: str, data: bytes) -> str:
        """MAIL, RCPT and DATA for one recipient, as ``SMTP.sendmail`` does, but without
        parsing both addresses four times more (``email.utils.parseaddr``, a fifth of
        the notifier's CPU, measured): the sender is fixed, and the recipient passed
        ``valid_address``, which admits no character that could break the command."""
        if smtp.is_ehlo_or_helo_needed:
            await smtp.ehlo()
        size = [b"SIZE=%d" % len(data)] if smtp.supports_extension("size") else []
        try:
            reply = await smtp.execute_command(b"MAIL", self._mail_from, *size)
            if reply.code != SMTPStatus.completed:
                raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, "")
            reply = await smtp.execute_command(b"RCPT", b"TO:<" + recipient.encode() + b">")
            if reply.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
                raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, recipient)
            return (await smtp.data(data)).message
        except aiosmtplib.SMTPResponseException:
            # Reset the envelope so that the session can carry the next message.
            with contextlib.suppress(ConnectionError, aiosmtplib.SMTPException):
                await smtp.rset()
            raise

    async def close(self) -> None:
        """Close the pooled sessions."""
        await self.pool.close()


def _failure(code: int, reply: str) -> SendFailure:
    if classify(code) is Severity.PERMANENT:
        return PermanentFailure(code, reply)
    return TemporaryFailure(code, reply)
