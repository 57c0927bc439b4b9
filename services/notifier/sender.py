"""Sending over SMTP with aiosmtplib: a small pool of reused sessions, a rate limit that
a server saying "slow down" lowers, and one attempt at a time.

At most ``smtp_sessions`` sessions are open to the server at once; each sends many
messages, and is replaced after ``smtp_messages_per_session`` or when it breaks. The
sender makes ONE attempt and says what its failure means (:class:`Failure`): a session
that could not be opened is the server's failure (the dispatcher waits for the server,
``mailserver.py``), a "slow down" lowers the rate, another 4xx or a session lost mid-message
is retried by the dispatcher with backoff until the notice's horizon, a 5xx is final.
"""

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib.typing import SMTPStatus

from services.notifier.config import NotifierSettings
from services.notifier.domain import Failure, Severity, failure_of, queue_id
from shared.logging import get_logger

log = get_logger(__name__)


class SendFailure(Exception):
    """One attempt failed; ``failure`` says what it means for the notice."""

    def __init__(
        self, failure: Failure, code: int | None, reply: str, *, answered: bool = True
    ) -> None:
        super().__init__(f"{code} {reply}" if code else reply)
        self.failure = failure
        self.code = code
        self.reply = reply
        self.answered = answered
        """The server answered the attempt with a refusal, so the message was certainly
        not accepted (False: the session was lost mid-message; it may have been)."""


@dataclass(frozen=True)
class SendResult:
    """How one attempt ended."""

    accepted: bool
    attempts: int
    code: int | None
    reply: str
    queue_id: str | None = None
    failure: Failure | None = None
    answered: bool = True

    @property
    def severity(self) -> Severity | None:
        """Temporary or permanent, for a failure."""
        if self.failure is None:
            return None
        return Severity.PERMANENT if self.failure is Failure.PERMANENT else Severity.TEMPORARY


UNLIMITED_GUESS = 64.0
"""The rate a server's first "slow down" halves when no rate is configured (unlimited)."""


class RateLimit:
    """At most ``rate`` starts a second, spaced evenly (0: unlimited); a server's "slow
    down" halves it (down to ``floor``), and it doubles back after ``recover`` seconds
    without one."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] | None = None,
        *,
        floor: float = 1.0,
        recover: float = 30.0,
    ) -> None:
        self.configured = rate
        self.rate = rate
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.floor = floor
        self.recover = recover
        self.lowered = 0
        """How many times a server's "slow down" lowered the rate, since start."""
        self._clock = clock
        self._next = 0.0
        self._slowed_at: float | None = None

    def _now(self) -> float:
        return self._clock() if self._clock else time.monotonic()

    def slow_down(self) -> None:
        """Halve the rate (a server said to slow down)."""
        current = self.rate if self.rate > 0 else UNLIMITED_GUESS
        self._set(max(self.floor, current / 2))
        self._slowed_at = self._now()
        self.lowered += 1
        log.warning("notifier.smtp_slow_down", rate_per_second=round(self.rate, 2))

    def _set(self, rate: float) -> None:
        self.rate = rate
        self.interval = 1.0 / rate if rate > 0 else 0.0

    def _recover(self) -> None:
        if self._slowed_at is None or self._now() - self._slowed_at < self.recover:
            return
        doubled = self.rate * 2
        if (self.configured <= 0 and doubled >= UNLIMITED_GUESS) or 0 < self.configured <= doubled:
            self._set(self.configured)
            self._slowed_at = None
        else:
            self._set(doubled)
            self._slowed_at = self._now()

    async def wait(self) -> None:
        """Wait for this caller's slot."""
        self._recover()
        if not self.interval:
            return
        now = self._now()
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
                except Exception as exc:
                    smtp.close()
                    raise _session_failure(exc) from exc
                self.opened += 1
            healthy = False
            try:
                yield smtp
                healthy = True
            except SendFailure:
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

    def drop_idle(self) -> None:
        """Forget the idle sessions without a word (the server is gone: they are dead)."""
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            smtp.close()

    async def probe(self) -> None:
        """Open a session and close it (QUIT): raises SendFailure if the server does not
        answer as a server should."""
        async with self._slots:  # a probe is a session too: never more than allowed
            smtp = self._client()
            try:
                await smtp.connect()
            except Exception as exc:
                smtp.close()
                raise _session_failure(exc) from exc
            await _close(smtp)


def _session_failure(exc: BaseException) -> SendFailure:
    """A session that could not be opened: the server's failure, whatever the cause."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SendFailure(Failure.SERVER, exc.code, f"session refused: {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPException | OSError | ssl.SSLError | TimeoutError):
        return SendFailure(Failure.SERVER, None, f"cannot connect: {type(exc).__name__}: {exc}")
    return SendFailure(Failure.SERVER, None, f"cannot connect: {exc!r}")


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
        self.limit = RateLimit(
            settings.smtp_rate_per_second,
            floor=settings.smtp_slow_down_floor_per_second,
            recover=settings.smtp_slow_down_recover_seconds,
        )
        self._mail_from = b"FROM:<" + settings.from_address.encode() + b">"

    async def attempt(self, recipient: str, data: bytes) -> SendResult:
        """One attempt to send ``data`` to ``recipient``: accepted, or what its failure means."""
        try:
            code, reply = await self._once(recipient, data)
        except SendFailure as exc:
            if exc.failure is Failure.SLOW_DOWN:
                self.limit.slow_down()
            return SendResult(
                False, 1, exc.code, exc.reply, failure=exc.failure, answered=exc.answered
            )
        return SendResult(True, 1, code, reply, queue_id(reply))

    async def _once(self, recipient: str, data: bytes) -> tuple[int, str]:
        async with self.pool.session() as smtp:
            await self.limit.wait()
            try:
                return 250, await self._transaction(smtp, recipient, data)
            except aiosmtplib.SMTPResponseException as exc:
                raise SendFailure(failure_of(exc.code, exc.message), exc.code, exc.message) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                smtp.close()  # a half-spoken session is not reused
                raise SendFailure(
                    Failure.TEMPORARY, None, f"{type(exc).__name__}: {exc}", answered=False
                ) from exc

    async def _transaction(self, smtp: aiosmtplib.SMTP, recipient: str, data: bytes) -> str:
        """MAIL, RCPT and DATA for one recipient, as ``SMTP.sendmail`` does, but without
        parsing both addresses four times more (``email.utils.parseaddr``, a fifth of
        the notifier's CPU, measured): the sender is fixed, and the recipient passed
        ``valid_address``, which admits no character that could break the command."""
        if smtp.is_ehlo_or_helo_needed:
            await smtp.ehlo()
        size = [b"SIZE=%d" % len(data)] if smtp.supports_extension("size") else []
        try:
            try:
                reply = await smtp.execute_command(b"MAIL", self._mail_from, *size)
                if reply.code != SMTPStatus.completed:
                    raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, "")
                reply = await smtp.execute_command(b"RCPT", b"TO:<" + recipient.encode() + b">")
                if reply.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
                    raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, recipient)
            except aiosmtplib.SMTPResponseException:
                raise
            except (aiosmtplib.SMTPException, OSError) as exc:
                # Lost before the message was sent (a pooled session the server dropped,
                # say): certainly not accepted.
                smtp.close()
                raise SendFailure(Failure.TEMPORARY, None, f"{type(exc).__name__}: {exc}") from exc
            return (await smtp.data(data)).message
        except aiosmtplib.SMTPResponseException:
            # Reset the envelope so that the session can carry the next message.
            with contextlib.suppress(ConnectionError, aiosmtplib.SMTPException):
                await smtp.rset()
            raise

    async def close(self) -> None:
        """Close the pooled sessions."""
        await self.pool.close()
