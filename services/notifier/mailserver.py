"""Whether the mail server can be reached, as mail transfer agents judge it.

A session that cannot be opened (connection refused, a time-out, a 421 greeting, a TLS
or authentication failure) is a property of the server, not of the message being sent:
the first such failure marks the server down, every notice then waits here before it is
handed out (spending no attempt), and one probe opens a session after
``smtp_probe_seconds``, then after twice that, up to ``smtp_probe_max_seconds``, until
the server answers. A notice waits at most until its horizon, on the service's clock.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Outage:
    """An outage of the mail server: begun (``at`` None), or over."""

    server: str
    since: datetime
    reason: str
    at: datetime | None = None
    probes: int = 0


Probe = Callable[[], Awaitable[None]]
Listener = Callable[[Outage], Awaitable[None]]


class MailServer:
    """The gate every notice passes before it is handed to the server."""

    def __init__(
        self,
        *,
        server: str,
        probe: Probe,
        clock: Callable[[], datetime],
        first: float,
        longest: float,
        poll: float,
        on_change: Listener | None = None,
    ) -> None:
        self.server = server
        self.probe = probe
        self.clock = clock
        self.first = first
        self.longest = longest
        self.poll = poll
        self.on_change = on_change
        self.since: datetime | None = None
        self.reason = ""
        self.probes = 0
        self.outages = 0
        """Outages since start."""
        self._up = asyncio.Event()
        self._up.set()
        self._waiting: list[tuple[datetime | None, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._told: set[asyncio.Task[None]] = set()
        metrics.get_meter("notifier").create_observable_gauge(
            "notifier.smtp.unreachable_seconds",
            callbacks=[self._observe],
            unit="s",
            description="How long the mail server has been unreachable (0: it answers).",
        )

    @property
    def available(self) -> bool:
        """Whether notices are being handed out."""
        return self._up.is_set()

    def problem(self) -> str | None:
        """For /readyz: since when and why the server is unreachable; None if it answers."""
        if self.since is None:
            return None
        return (
            f"unreachable since {self.since.isoformat()}: {self.reason} "
            f"({self.probes} probes; notices wait, spending no attempts)"
        )

    def _observe(self, _: CallbackOptions) -> Iterable[Observation]:
        down = 0.0 if self.since is None else (self.clock() - self.since).total_seconds()
        yield Observation(down, {"server": self.server})

    def down(self, reason: str) -> None:
        """A session could not be opened: stop handing out notices and start probing."""
        if not self._up.is_set():
            return
        self._up.clear()
        self.since, self.reason, self.probes = self.clock(), reason, 0
        self.outages += 1
        log.warning("notifier.smtp_unavailable", server=self.server, reason=reason)
        self._tell(Outage(self.server, self.since, reason))
        self._task = asyncio.create_task(self._probe_until_up())

    async def wait(self, until: datetime | None = None) -> bool:
        """Return once the server answers (True), or once ``until`` passes on the
        service's clock first (False)."""
        if self._up.is_set():
            return True
        if until is not None and self.clock() >= until:
            return False
        # Thousands of notices may wait: one ticker looks at the clock for all of them.
        found: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((until, found))
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick())
        return await found

    async def _tick(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.poll)
            now = self.clock()
            still = []
            for until, found in self._waiting:
                if found.done():
                    continue
                if until is not None and now >= until:
                    found.set_result(False)
                else:
                    still.append((until, found))
            self._waiting = still

    def _release(self) -> None:
        waiting, self._waiting = self._waiting, []
        for _, found in waiting:
            if not found.done():
                found.set_result(True)

    async def _probe_until_up(self) -> None:
        delay = self.first
        while True:
            await asyncio.sleep(delay)
            self.probes += 1
            try:
                await self.probe()
            except Exception as exc:
                self.reason = str(exc) or repr(exc)
                delay = min(delay * 2, self.longest)
                continue
            break
        since = self.since or self.clock()
        outage = Outage(self.server, since, self.reason, at=self.clock(), probes=self.probes)
        self.since = None
        self._up.set()
        self._release()
        log.warning(
            "notifier.smtp_recovered",
            server=self.server,
            down_seconds=round((outage.at or since).timestamp() - since.timestamp(), 1),
            probes=outage.probes,
        )
        self._tell(outage)

    def _tell(self, outage: Outage) -> None:
        if self.on_change is None:
            return
        task = asyncio.create_task(self._told_once(outage))
        self._told.add(task)
        task.add_done_callback(self._told.discard)

    async def _told_once(self, outage: Outage) -> None:
        assert self.on_change is not None
        delay = 0.2
        for _ in range(20):  # the database may be what failed; never the sending's business
            try:
                await self.on_change(outage)
                return
            except Exception as exc:
                log.warning("notifier.smtp_event_retry", error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        """Stop probing; a restarted service finds out again with its first session."""
        tasks = [t for t in (self._task, self._ticker, *self._told) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
