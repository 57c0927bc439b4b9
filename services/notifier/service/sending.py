"""Sending notices once: claim a batch, send it over the pooled sessions, record each
outcome, and only then let the batch's offsets be committed.

Each notice's key (``notice_id``) is claimed in the database, in one transaction for the
whole batch, before anything is sent; its outcome is committed right after the server
answers, with its outbox event, by the writer (``writer.py``), many at a time. A notice
whose outcome is recorded is never sent again. A notice claimed earlier with no outcome
(the process died, or lost its partitions, between the claim and the record) is sent
again with the same Message-ID; if it had been handed to the server (``started_at``,
committed just before the send) it is marked ``uncertain``: the first copy may have
been accepted. Batches are sent side by side, up to ``batches_in_flight`` per consumer
(a lane), and each lane's offsets committed in the order its batches were consumed.

Each notice is tried until its horizon (its deadline less ``retry_margin_hours``): a
temporary failure waits its backoff on the service's clock (growing to
``smtp_backoff_max_seconds``) holding no session slot; a server that cannot be reached
holds every notice at the gate (``mailserver.py``) with no attempt spent; a "slow down"
lowers the rate. A re-send (``resend`` > 0) turns a failed notice back into a claim.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import asyncpg

from services.notifier import repository
from services.notifier.config import NotifierSettings
from services.notifier.domain import (
    Failure,
    Notice,
    Outcome,
    Reason,
    Recipient,
    Severity,
    State,
    backoff,
    horizon,
    message_id,
)
from services.notifier.mailserver import MailServer
from services.notifier.messages import Templates, build_message, valid_address
from services.notifier.sender import Sender, SendResult
from services.notifier.service import waiting
from services.notifier.service.events import write_outcomes
from services.notifier.service.waiting import ContactWaiter
from services.notifier.service.writer import Writer
from shared.db import Sessions, transaction
from shared.logging import get_logger

log = get_logger(__name__)
Clock = Callable[[], datetime]
CLOSE_SECONDS = 10.0
"""How long a stopping service waits for the batches it is sending."""


@dataclass
class Lane:
    """The batches of one consumer: at most ``batches_in_flight`` at once, their offsets
    committed in the order they were consumed (``tail`` is the latest)."""

    slots: asyncio.Semaphore
    tail: "asyncio.Task[None] | None" = None


@dataclass(frozen=True)
class Job:
    notice: Notice
    message_id: str
    uncertain: bool
    recipient: Recipient | None
    horizon: datetime | None = None
    """Temporary failures are retried until then (the deadline less the margin)."""


def _urgency(notice: Notice) -> tuple[bool, datetime]:
    """Sort key: the earliest deadline first, notices without one last."""
    return (notice.deadline_at is None, notice.deadline_at or datetime.max.replace(tzinfo=UTC))


class Dispatcher:
    """Takes consumed batches of notices to their recorded outcomes."""

    def __init__(
        self,
        *,
        settings: NotifierSettings,
        sessions: Sessions,
        sender: Sender,
        templates: Templates,
        clock: Clock,
        instance: str,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        server: MailServer,
    ) -> None:
        self.settings = settings
        self.server = server
        self.sessions = sessions
        self.sender = sender
        self.templates = templates
        self.clock = clock
        self.instance = instance
        self.id_domain = settings.id_domain  # parsed once, not per notice
        self.writer = Writer(
            connect,
            clock=clock,
            linger=settings.outcome_linger_seconds,
            start_linger=settings.start_linger_seconds,
        )
        # A crash leaves uncertain only the notices marked started whose outcome is not
        # committed, not every notice claimed: at most 4 per session between the mark and
        # the server's answer (waiting for a session or the rate), and at most
        # ``in_flight_notices`` from the mark to the committed outcome (``linger``).
        self._handing = asyncio.Semaphore(settings.smtp_sessions * 4)
        self._window = asyncio.Semaphore(settings.in_flight_notices)
        poll = settings.contact_poll_seconds
        self.people = ContactWaiter(
            sessions,
            waiting.people,
            grace=settings.no_contact_grace_seconds,
            poll=poll,
            clock=clock,
        )
        self.organisations = ContactWaiter(
            sessions,
            waiting.organisations,
            grace=settings.organisation_contact_grace_seconds,
            poll=poll,
            clock=clock,
        )
        self._lanes: dict[str, Lane] = {}
        self._in_flight: set[str] = set()
        self._batches: set[asyncio.Task[None]] = set()
        self.failure: BaseException | None = None
        self.sent_again = 0
        """Notices sent again after a claim with no outcome (``uncertain``), since start."""
        self.reopened = 0
        """Failed notices turned back into claims by a re-send, since start."""

    def problem(self) -> str | None:
        """What is wrong, for the readiness check; None if nothing."""
        if self.failure is not None:
            return f"stopped committing: {self.failure!r}; restart the service"
        return None

    async def submit(
        self,
        notices: Sequence[Notice],
        commit: Callable[[], Awaitable[None]],
        *,
        lane: str = "default",
    ) -> None:
        """Claim ``notices`` and start sending them; ``commit`` runs once every one of them
        and of the batches submitted before on the same ``lane`` (one per consumer) has
        its outcome recorded."""
        if self.failure is not None:
            await asyncio.sleep(1.0)
            raise RuntimeError("the dispatcher stopped on an error") from self.failure
        if lane not in self._lanes:
            self._lanes[lane] = Lane(asyncio.Semaphore(self.settings.batches_in_flight))
        line = self._lanes[lane]
        await line.slots.acquire()
        try:
            jobs = await self._claim(notices)
        except BaseException:
            line.slots.release()
            raise
        task = asyncio.create_task(self._run(jobs, line, line.tail, commit))
        line.tail = task
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _claim(self, notices: Sequence[Notice]) -> list[Job]:
        unique: dict[str, Notice] = {}
        for notice in notices:
            # A copy of a notice another batch here is sending is that batch's to record,
            # and this batch's offsets are committed after that batch's.
            if notice.notice_id not in self._in_flight:
                unique.setdefault(notice.notice_id, notice)
        if not unique:
            return []
        # The most urgent first: claimed, and handed to the sessions, in deadline order
        # (a batch mixes people whose regimes give them different deadlines).
        todo = sorted(unique.values(), key=_urgency)
        ids = [message_id(n.notice_id, self.id_domain) for n in todo]
        now = self.clock()
        async with transaction(self.sessions) as session:
            resends = [(n.notice_id, n.resend) for n in todo if n.resend]
            if resends:
                reopened = await repository.reopen(session, resends)
                self.reopened += len(reopened)
                if reopened:
                    log.info("notifier.reopened", count=len(reopened), first=reopened[0])
            claimed = await repository.claim(session, todo, ids, claimed_by=self.instance, at=now)
            mine = [n for n in todo if n.notice_id in claimed]
            # A recipient notice goes to the organisation: the person it is about may be
            # erased already (that is often why it is sent).
            people = await waiting.people(
                session, [n.user_id for n in mine if n.user_id and not n.organisation]
            )
            orgs = await waiting.organisations(
                session, [n.organisation for n in mine if n.organisation]
            )
            jobs: list[Job] = []
            settled: list[Outcome] = []
            for notice, mid in zip(todo, ids, strict=True):
                got = claimed.get(notice.notice_id)
                if got is None:
                    continue  # its outcome is recorded: never again
                if notice.organisation:
                    found = orgs.get(notice.organisation)
                else:
                    found = people.get(notice.user_id or "")
                until = horizon(notice.deadline_at, self.settings.retry_margin_hours)
                if notice.resend and until is not None:
                    # Asked again, often after the deadline: it is retried for the margin
                    # at least, not failed at its first temporary failure.
                    until = max(until, now + timedelta(hours=self.settings.retry_margin_hours))
                if isinstance(found, Reason):
                    job = Job(notice, mid, got.uncertain, None, until)
                    settled.append(self._failed(job, found, 0, None, None))
                else:
                    jobs.append(Job(notice, mid, got.uncertain, found, until))
            await write_outcomes(session, settled)
        self._in_flight.update(job.notice.notice_id for job in jobs)
        return jobs

    async def _run(
        self,
        jobs: list[Job],
        line: "Lane",
        previous: asyncio.Task[None] | None,
        commit: Callable[[], Awaitable[None]],
    ) -> None:
        try:
            await asyncio.gather(*(self._deliver(job) for job in jobs))
            if previous is not None:
                await previous  # raises if an earlier batch failed: nothing later commits
            try:
                await commit()
            except Exception as exc:  # a rebalance took the partitions: the new owner
                # is handed the batch again and finds its outcomes recorded
                log.warning("notifier.commit_failed", error=repr(exc))
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.failure = self.failure or exc
                log.exception("notifier.batch_failed")
            raise
        finally:
            self._in_flight.difference_update(job.notice.notice_id for job in jobs)
            line.slots.release()

    async def _deliver(self, job: Job) -> None:
        recipient = job.recipient
        if recipient is None:
            if job.notice.organisation:
                found = await self.organisations.wait(job.notice.organisation)
            else:
                found = await self.people.wait(job.notice.user_id or "")
            if isinstance(found, Reason):
                await self.writer.record(self._failed(job, found, 0, None, None))
                return
            recipient = found
        if not valid_address(recipient.address):
            outcome = self._failed(job, Reason.REJECTED, 0, None, "the address is not valid")
            await self.writer.record(outcome)
            return
        rendered = self.templates.render(
            job.notice.kind,
            recipient.language,
            {**job.notice.context, "recipient_name": recipient.name},
        )
        data = build_message(
            rendered,
            sender=self.settings.smtp_from,
            recipient=recipient,
            message_id=job.message_id,
            date=self.clock(),
        )
        if job.uncertain:
            self.sent_again += 1
            log.warning("notifier.sent_again", notice_id=job.notice.notice_id)
        await self._send(job, recipient.address, data, rendered.language)

    async def _send(self, job: Job, address: str, data: bytes, language: str) -> None:
        """Attempt until accepted, refused for good, or past the notice's horizon, and
        record the outcome (inside the in-flight window: a crash leaves at most
        ``in_flight_notices`` started without their outcome)."""
        attempts = 0
        lost = False  # a session was lost mid-message: the server may hold a first copy
        notice_id = job.notice.notice_id
        while True:
            if not await self.server.wait(until=job.horizon):
                reply = f"the mail server was unreachable until the horizon: {self.server.reason}"
                outcome = self._failed(job, Reason.RETRIES_EXHAUSTED, attempts, None, reply)
                await self.writer.record(replace(outcome, language=language))
                return
            async with self._window:
                async with self._handing:
                    if not self.server.available:
                        continue  # it went down while this one queued: back to the gate
                    await self.writer.started(notice_id)
                    result = await self.sender.attempt(address, data)
                if result.failure is Failure.SERVER:
                    self.server.down(result.reply)
                    self.sender.pool.drop_idle()  # sessions to a server that is gone are dead
                else:
                    attempts += 1
                done = result.accepted or result.failure is Failure.PERMANENT
                now = self.clock()
                wait = 0.0
                if result.failure is Failure.TEMPORARY:
                    wait = backoff(
                        attempts,
                        self.settings.smtp_backoff_seconds,
                        self.settings.smtp_backoff_max_seconds,
                    )
                if (
                    not done
                    and result.failure is not Failure.SERVER
                    and job.horizon is not None
                    and now + timedelta(seconds=wait) >= job.horizon
                ):
                    done = True  # no attempt left before the horizon: retries_exhausted
                if done:
                    outcome = self._outcome(job, replace(result, attempts=attempts), language)
                    await self.writer.record(replace(outcome, uncertain=outcome.uncertain or lost))
                    return
                if result.answered:
                    await self._unstart(notice_id)
                else:
                    # It may have been accepted: still marked started (uncertain on a
                    # crash), and uncertain if a later copy is accepted.
                    lost = True
                    log.warning(
                        "notifier.lost_mid_message", notice_id=notice_id, error=result.reply
                    )
            if wait:
                await self._sleep(wait)

    async def _unstart(self, notice_id: str) -> None:
        async with transaction(self.sessions) as session:
            await repository.unstart(session, notice_id)

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the service's clock (a test moves it instead of waiting)."""
        until = self.clock() + timedelta(seconds=seconds)
        while (left := (until - self.clock()).total_seconds()) > 0:  # noqa: ASYNC110 (a clock, not an event)
            await asyncio.sleep(min(left, self.settings.clock_poll_seconds))

    def _outcome(self, job: Job, result: SendResult, language: str) -> Outcome:
        if result.accepted:
            return Outcome(
                notice_id=job.notice.notice_id,
                kind=job.notice.kind,
                user_id=job.notice.user_id,
                breach_id=job.notice.breach_id,
                organisation=job.notice.organisation,
                state=State.ACCEPTED,
                at=self.clock(),
                message_id=job.message_id,
                attempts=result.attempts,
                uncertain=job.uncertain,
                smtp_code=result.code,
                smtp_reply=result.reply,
                queue_id=result.queue_id,
                language=language,
            )
        reason = (
            Reason.REJECTED if result.severity is Severity.PERMANENT else Reason.RETRIES_EXHAUSTED
        )
        outcome = self._failed(job, reason, result.attempts, result.code, result.reply)
        return replace(outcome, language=language)

    def _failed(
        self, job: Job, reason: Reason, attempts: int, code: int | None, reply: str | None
    ) -> Outcome:
        return Outcome(
            notice_id=job.notice.notice_id,
            kind=job.notice.kind,
            user_id=job.notice.user_id,
            breach_id=job.notice.breach_id,
            organisation=job.notice.organisation,
            state=State.FAILED,
            at=self.clock(),
            message_id=job.message_id,
            attempts=attempts,
            uncertain=job.uncertain,
            smtp_code=code,
            smtp_reply=reply,
            reason=reason,
            detail=reply if code is None and reply else None,
        )

    async def close(self) -> None:
        """Let the batches being sent finish (or give up after ``CLOSE_SECONDS``)."""
        if self._batches:
            _, pending = await asyncio.wait(set(self._batches), timeout=CLOSE_SECONDS)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(BaseException):
                    await task
        await self.server.close()
        await self.people.close()
        await self.organisations.close()
        await self.writer.close()
        await self.sender.close()
