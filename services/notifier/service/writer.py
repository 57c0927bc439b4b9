"""The one writer of the sending path: marks notices started and records outcomes, many
at a time, each round in one SQL statement on a connection of its own.

A notice is marked started just before it is handed to the SMTP server, and its
outcome (state, reply, and its ``notification.*`` event in the outbox) is committed
right after the server answers. Start marks go at once, with whatever
arrived while the last round ran; an outcome waits up to ``linger`` (the setting
``NOTIFIER_OUTCOME_LINGER_SECONDS``) for others to share its round. Each round that
records outcomes stages their events, and each such statement wakes the outbox relay
for a Kafka transaction of its own: measured, rounds of one or two outcomes made the
relay half of the notifier's time; lingering 50 ms makes at most 20 relay transactions a
second, whatever the rate. A round is one statement (data-modifying CTEs, committed
together): measured against a SQLAlchemy transaction per group, it cut the database's
share of the notifier's time by more than half. Every failure is retried with backoff: nothing is
dropped, and the batch a notice belongs to waits for it before its offsets commit.
"""

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg

from services.notifier.domain import Outcome
from services.notifier.service.events import outcome_event
from shared import outbox
from shared.kafka import is_transient
from shared.logging import get_logger
from shared.telemetry import current_trace_headers

log = get_logger(__name__)

_STARTED = """
    UPDATE deliveries SET started_at = $1
    WHERE notice_id = ANY($2::text[]) AND state = 'claimed'
"""

_ROUND = f"""
    WITH t AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::boolean[],
                             $5::timestamptz[], $6::int[], $7::text[], $8::text[],
                             $9::text[], $10::text[], $11::text[])
            AS t(n, state, attempts, uncertain, at, code, reply, qid, reason, detail, lang)
    ), rec AS (
        UPDATE deliveries d SET
            state = t.state, attempts = d.attempts + t.attempts, uncertain = t.uncertain,
            accepted_at = CASE WHEN t.state = 'accepted' THEN t.at END,
            failed_at = CASE WHEN t.state = 'failed' THEN t.at END,
            smtp_code = t.code, smtp_reply = t.reply, queue_id = t.qid,
            reason = t.reason, detail = t.detail, language = t.lang
        FROM t WHERE d.notice_id = t.n AND d.state = 'claimed'
        RETURNING d.notice_id AS tag
    ), ev AS (
        -- the events of the outcomes recorded (tagged with their notice ids), $12-$17
        {outbox.insert_sql(12, tagged="rec")}
        RETURNING 1
    ), st AS (
        UPDATE deliveries SET started_at = $18
        WHERE notice_id = ANY($19::text[]) AND state = 'claimed'
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM rec), (SELECT count(*) FROM ev)
"""


MAX_PER_ROUND = 1000
"""A round with this many start marks or outcomes waiting goes at once, linger or not."""


class Writer:
    """Group-commits start marks and outcomes; callers return once theirs is committed."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        *,
        clock: Callable[[], datetime],
        linger: float = 0.0,
        start_linger: float = 0.0,
    ) -> None:
        self.connect = connect
        self.clock = clock
        self.linger = linger
        self.start_linger = start_linger
        self._first_outcome_at = self._first_start_at = 0.0
        self._starts: list[tuple[str, asyncio.Future[None]]] = []
        self._outcomes: list[tuple[Outcome, str, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self.rounds = 0

    async def started(self, notice_id: str) -> None:
        """Return once the notice is marked as handed to the server."""
        done = self._future()
        if not self._starts:
            self._first_start_at = asyncio.get_running_loop().time()
        self._starts.append((notice_id, done))
        self._nudge(len(self._starts))
        await done

    async def record(self, outcome: Outcome) -> None:
        """Return once the outcome and its event are committed."""
        done = self._future()
        headers = json.dumps(current_trace_headers())
        if not self._outcomes:
            self._first_outcome_at = asyncio.get_running_loop().time()
        self._outcomes.append((outcome, headers, done))
        self._nudge(len(self._outcomes))
        await done

    def _future(self) -> asyncio.Future[None]:
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        return asyncio.get_running_loop().create_future()

    def _nudge(self, waiting: int) -> None:
        # Only what changes when the next round is due wakes the writer: a first item
        # (its linger starts) or a full round; the others just join.
        if waiting == 1 or waiting >= MAX_PER_ROUND:
            self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            due = self._due(self._outcomes, self._first_outcome_at, self.linger, now)
            starts_due = self._due(self._starts, self._first_start_at, self.start_linger, now)
            if not (due == 0 or starts_due == 0):
                # Nothing to write yet: start marks wait ``start_linger`` (a send waits
                # for its mark), outcomes ``linger``, for others to share the round.
                waits = [d for d in (due, starts_due) if d is not None]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(waits) if waits else None)
                self._wake.clear()
                continue
            starts, self._starts = self._starts, []
            outcomes: list[tuple[Outcome, str, asyncio.Future[None]]] = []
            if due is not None and due <= 0:
                outcomes, self._outcomes = self._outcomes, []
            await self._write([n for n, _ in starts], [(o, h) for o, h, _ in outcomes])
            self.rounds += 1
            for done in [d for _, d in starts] + [d for *_, d in outcomes]:
                if not done.done():
                    done.set_result(None)

    @staticmethod
    def _due(waiting: list[Any], first: float, linger: float, now: float) -> float | None:
        """Seconds until ``waiting`` is written (0: now); None if nothing waits."""
        if not waiting:
            return None
        if len(waiting) >= MAX_PER_ROUND:
            return 0.0
        return max(0.0, first + linger - now)

    async def _write(self, starts: list[str], outcomes: list[tuple[Outcome, str]]) -> None:
        delay = 0.2
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self.connect()
                if outcomes:
                    # The round stages the outcomes' events; its commit wakes the relay.
                    await outbox.execute_raw(self._conn, _ROUND, *self._arguments(starts, outcomes))
                else:
                    await self._conn.execute(_STARTED, self.clock(), starts)
                return
            except Exception as exc:
                if self._conn is not None:
                    self._conn.terminate()  # the next attempt starts on a new connection
                    self._conn = None
                log.warning("notifier.write_retry", error=repr(exc), transient=is_transient(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _arguments(self, starts: list[str], outcomes: list[tuple[Outcome, str]]) -> list[object]:
        items = [o for o, _ in outcomes]
        evs = [outcome_event(o) for o in items]
        return [
            [o.notice_id for o in items],
            [o.state.value for o in items],
            [o.attempts for o in items],
            [o.uncertain for o in items],
            [o.at for o in items],
            [o.smtp_code for o in items],
            [o.smtp_reply for o in items],
            [o.queue_id for o in items],
            [o.reason.value if o.reason else None for o in items],
            [o.detail for o in items],
            [o.language for o in items],
            *outbox.insert_params(
                evs, tags=[o.notice_id for o in items], headers=[h for _, h in outcomes]
            ),
            self.clock(),
            starts,
        ]

    async def close(self) -> None:
        """Stop writing; what is not committed is sent again after a restart."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            await self._conn.close()
