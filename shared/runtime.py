"""A running service: its infrastructure, its typed parts and its periodic jobs.

Each service declares one :class:`Runtime` subclass in its ``bootstrap.py``; routes reach
it through :func:`runtime_of`, subscribers through ``Context("runtime")``. Periodic jobs
(:meth:`Runtime.every`) count their rounds in a :class:`Job`, so that tests wait for
rounds rather than seconds, and a job failing round after round makes the service not
ready.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Request
from faststream.kafka import KafkaBroker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import Sessions
from shared.logging import get_logger
from shared.relay import OutboxRelay
from shared.settings import ServiceSettings

log = get_logger(__name__)

JobFn = Callable[[], Awaitable[object]]


@dataclass(kw_only=True)
class Infrastructure:
    """What every service is given before its own parts are built."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: Sessions
    broker: KafkaBroker


class JobLocks(Protocol):
    """Where a periodic job's round takes its lock, so one replica at a time runs it."""

    async def run(self, lock: str, job: JobFn) -> bool:
        """Run ``job`` unless ``lock`` is held elsewhere; return whether it ran."""
        ...


# A round runs only where this session lock was free: replicas of a service share the
# schema, and two rounds at once would judge, fire or sign the same rows twice (the
# loser failing on a unique key, or waiting on the winner's row locks).
_TRY_JOB_LOCK = text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))")
_JOB_UNLOCK = text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))")


async def run_exclusive(engine: AsyncEngine, lock: str, job: JobFn) -> bool:
    """Run ``job`` unless a replica holds ``lock`` (then skip it); return whether it ran."""
    async with engine.connect() as conn:
        # Autocommit: the lock outlives statements, and no transaction idles for the round.
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        if not await conn.scalar(_TRY_JOB_LOCK, {"k": lock}):
            return False
        try:
            await job()
        finally:
            await conn.execute(_JOB_UNLOCK, {"k": lock})
    return True


@dataclass(frozen=True)
class AdvisoryLocks:
    """Job locks in PostgreSQL, shared by every replica of the service (the default)."""

    engine: AsyncEngine

    async def run(self, lock: str, job: JobFn) -> bool:
        """Run ``job`` under the advisory lock ``lock``, unless a replica holds it."""
        return await run_exclusive(self.engine, lock, job)


@dataclass
class LocalLocks:
    """Job locks in this process only: one replica, no database (the fast tests)."""

    held: set[str] = field(default_factory=set)

    async def run(self, lock: str, job: JobFn) -> bool:
        """Run ``job`` unless this process is running a round under ``lock``."""
        if lock in self.held:
            return False
        self.held.add(lock)
        try:
            await job()
        finally:
            self.held.discard(lock)
        return True


@dataclass(eq=False)
class Job:
    """A periodic job's rounds: how many ran, how many failed in a row, the last error."""

    name: str
    seconds: float
    failing_after: int = 3
    """Consecutive failed rounds after which the job makes the service not ready."""
    begun: int = 0
    """Rounds begun (including the one running)."""
    rounds: int = 0
    """Rounds that ran the job to the end."""
    skipped: int = 0
    """Rounds left to another replica, which held the job's lock."""
    failures: int = 0
    """Failed rounds since the last one that ran to the end."""
    last_error: str | None = None
    _watchers: set[asyncio.Queue[tuple[int, bool]]] = field(default_factory=set, repr=False)

    def problem(self) -> str | None:
        """For ``/readyz``: what is wrong once the job failed ``failing_after`` rounds."""
        if self.failures >= self.failing_after:
            return f"failing: {self.last_error} ({self.failures} rounds in a row)"
        return None

    async def wait_rounds(self, n: int = 1, *, within: float = 30.0) -> None:
        """Wait until ``n`` rounds begun after this call have run the job to the end.

        What a test that asserts something did *not* happen waits for: it fails when the
        job never ran, where a fixed sleep would pass. A :class:`TimeoutError` after
        ``within`` seconds names the job and its last error.
        """
        after = self.begun
        done = 0
        queue: asyncio.Queue[tuple[int, bool]] = asyncio.Queue()
        self._watchers.add(queue)
        try:
            async with asyncio.timeout(within):
                while done < n:
                    seq, ran = await queue.get()
                    if seq > after and ran:
                        done += 1
        except TimeoutError:
            raise TimeoutError(
                f"job {self.name}: {done} of {n} rounds ran in {within} s "
                f"(failures in a row: {self.failures}, last error: {self.last_error})"
            ) from None
        finally:
            self._watchers.discard(queue)

    async def run(self, locks: JobLocks, lock: str, job: JobFn) -> None:
        """One round: run ``job`` under ``lock``, and count how it went."""
        self.begun += 1
        seq = self.begun
        ran = False
        try:
            if await locks.run(lock, job):
                ran = True
                self.rounds += 1
                self.failures = 0
                self.last_error = None
            else:
                self.skipped += 1
        except Exception as exc:
            self.failures += 1
            self.last_error = repr(exc)
            log.warning("job.failed", job=self.name, error=repr(exc), failures=self.failures)
        finally:
            for queue in self._watchers:
                queue.put_nowait((seq, ran))

    async def forever(self, locks: JobLocks, lock: str, job: JobFn) -> None:
        """A round every ``seconds``, until cancelled."""
        while True:
            await asyncio.sleep(self.seconds)
            await self.run(locks, lock, job)


@dataclass(kw_only=True)
class Runtime(Infrastructure):
    """A running service: its infrastructure and, in a subclass, its own typed parts.

    Each service declares one subclass in its ``bootstrap.py`` (the parts it runs as
    typed fields), built by one ``bootstrap`` function that tests can call with fakes.
    Routes reach it through :func:`runtime_of`, subscribers through
    ``Context("runtime")``.
    """

    relay: OutboxRelay | None = None
    readiness: dict[str, Callable[[], str | None]] = field(default_factory=dict)
    """A service's own readiness checks, by name: each returns what is wrong, or None."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    """The periodic jobs, by the name given to :meth:`every`."""
    job_locks: JobLocks | None = None
    """Where jobs take their locks; unset, PostgreSQL's advisory locks."""

    async def start(self) -> None:
        """Start the service's own parts: after migration, before the relay and consumers."""

    async def stop(self) -> None:
        """Stop what :meth:`start` started; the base cancels the background jobs."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()

    def every(self, seconds: float, name: str, job: JobFn) -> Job:
        """Run ``job`` every ``seconds`` until the service stops, on one replica at a time.

        A failure is logged and the next round retries; after ``job_failing_rounds``
        failures in a row ``/readyz`` answers 503 with ``job:<name>``.
        """
        full = f"{self.settings.service_name}.{name}"
        record = Job(full, seconds, failing_after=self.settings.job_failing_rounds)
        self.jobs[name] = record
        self.readiness[f"job:{name}"] = record.problem
        locks = self.job_locks or AdvisoryLocks(self.engine)
        lock = f"{self.settings.schema_name}.{full}"
        self.tasks.append(asyncio.create_task(record.forever(locks, lock, job)))
        return record


R = TypeVar("R", bound=Runtime)
Bootstrap = Callable[[Infrastructure], Awaitable[Runtime]]


async def plain_runtime(infra: Infrastructure) -> Runtime:
    """The bootstrap of a service that runs nothing beyond its infrastructure."""
    return Runtime(**vars(infra))


def current_runtime(request: Request, cls: type[R]) -> R:
    """The running service's runtime, as the type the service declared."""
    runtime = getattr(request.app.state, "runtime", None)
    if not isinstance(runtime, cls):
        raise RuntimeError(f"the service is not running a {cls.__name__}")
    return runtime


def runtime_of(cls: type[R]) -> Callable[[Request], Awaitable[R]]:
    """A FastAPI dependency giving the running service's typed runtime."""

    # Async on purpose: FastAPI runs sync dependencies in a thread pool.
    async def get(request: Request) -> R:
        return current_runtime(request, cls)

    return get


async def _sessions(request: Request) -> Sessions:
    return current_runtime(request, Runtime).sessions


SessionsDep = Annotated[Sessions, Depends(_sessions)]
"""The service's database sessions, for a route."""
