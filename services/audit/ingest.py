"""The audit log's ingestion stages: read batches, write them in order, commit offsets.

``data.accessed`` is consumed in batches, in three stages that run side by side: the
:class:`Reader` reads each record into its leaf hash and rows (``ingestion.read``; what
does not read goes to the DLQ with the reason), in a thread; the :class:`Writer`
appends read batches to the log from a thread of its own, and only then are their
offsets committed, in order. A consumer killed mid-batch is handed the uncommitted
batches again and the log's unique event ids turn the copies away.
"""

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, TypeVar

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from faststream.message import StreamMessage
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from services.audit import ingestion, records
from shared import events
from shared.kafka import is_transient
from shared.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")
EventT = TypeVar("EventT", bound=events.Envelope)
CLOSE_SECONDS = 10.0
"""How long a stopping service waits for the batches it has yet to write."""
QUEUED_BATCHES = 2
"""Batches read and waiting for the log's writer; the reader waits beyond that."""


LINKED_RECORDS = 128
"""Records of a batch whose trace context its span is given: OpenTelemetry keeps the
last 128 links of a span (its default limit) and drops the others, yet FastStream's
telemetry extracted context and baggage from every record of a batch of 5,000 first
(measured: a fifth of the event loop's time)."""


async def last_headers_only(
    records: tuple[ConsumerRecord[Any, Any], ...],
    original: Callable[[tuple[ConsumerRecord[Any, Any], ...]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's parsing, with only the last ``LINKED_RECORDS`` records' headers left
    for its telemetry: the links a span keeps are the same."""
    message = await original(records)
    message.batch_headers = message.batch_headers[-LINKED_RECORDS:]
    return message


def complete(event: events.Envelope) -> str | None:
    """Why an event that decoded cannot be used (a field its producer must send is
    missing), or None."""
    if missing := records.unsent(event):
        return f"invalid event: {missing}: Field required"
    return None


class Reader:
    """Reads batches in a thread (the native reading lets go of the GIL), or in a worker
    process when ``workers`` is 1 (for the Python reading, when ``audit_native`` is not
    built). Meanwhile the event loop goes on fetching from Kafka. A worker that dies is
    replaced, and its batch read in-process."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        if self.workers:
            self._pool = self._new_pool()
            await self.read([])  # the worker imports the service now, not on the first batch

    async def read(self, values: list[bytes]) -> ingestion.Read:
        if self._pool is None:  # the native reading lets go of the GIL: a thread will do
            return await asyncio.to_thread(ingestion.read, values)
        loop = asyncio.get_running_loop()
        try:
            packed = await loop.run_in_executor(self._pool, ingestion.read_packed, values)
        except BrokenProcessPool:
            log.warning("audit.reader_restarted")  # the worker died: start another
            self._pool.shutdown(wait=False)
            self._pool = self._new_pool()
            return ingestion.read(values)
        return ingestion.unpack_read(packed)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=get_context("spawn"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit once the service is gone, even if it was killed (SIGKILL, the
    OOM killer) and could not shut its workers down."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class Writer:
    """Writes read batches to the log one after another, and has each batch's offsets
    committed only once the batch is in the log.

    The writer runs in a thread of its own, with its own event loop and database
    connection, behind a short queue: the service's event loop spends tens of
    milliseconds at a time on each fetched batch, and the writer's statements would wait
    for it between every round trip (measured: the database sat idle half the time).
    Batches that queued up while the last write ran are written together. Offsets are
    committed on the service's loop, which owns the consumer, in the order the batches
    were written. A crash loses only uncommitted offsets: the batches come again and the
    log's unique event ids turn the copies away.
    """

    def __init__(
        self, connect: Callable[[], Awaitable[asyncpg.Connection]], audit_log: ingestion.AuditLog
    ) -> None:
        self.connect = connect
        self.audit_log = audit_log
        self._conn: asyncpg.Connection | None = None
        self._loop: asyncio.AbstractEventLoop
        self._queue: asyncio.Queue[tuple[ingestion.Prepared, Any, dict[TopicPartition, int]]]
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None]
        self._commits: asyncio.Queue[tuple[Any, dict[TopicPartition, int]]] = asyncio.Queue()
        self._committer: asyncio.Task[None] | None = None
        self._service_loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    def _start(self) -> None:
        self._service_loop = asyncio.get_running_loop()
        self._loop = asyncio.new_event_loop()
        self._committer = asyncio.create_task(self._commit_in_order())
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(started,), name="audit-writer", daemon=True
        )
        self._thread.start()
        started.wait()

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._queue = asyncio.Queue(maxsize=QUEUED_BATCHES)
        self._task = self._loop.create_task(self._run())
        started.set()
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass  # closed
        except Exception:  # nothing will be written, nor committed, until a restart
            log.exception("audit.writer_stopped")
        if self._conn is not None:
            self._conn.terminate()  # an unfinished transaction is rolled back
        self._loop.close()

    def problem(self) -> str | None:
        """What is wrong with the writer, for the readiness check; None if nothing."""
        if self._thread is not None and not self._thread.is_alive() and not self._closing:
            return "stopped: nothing is written until the service restarts (see its log)"
        return None

    def _in_thread(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run ``coroutine`` on the writer's loop; await the result on the caller's."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def submit(
        self, ready: ingestion.Prepared, consumer: Any, consumed: Sequence[ConsumerRecord[Any, Any]]
    ) -> None:
        """Queue a batch for writing; waits while ``QUEUED_BATCHES`` are queued."""
        last: dict[tuple[str, int], int] = {}
        for record in consumed:
            key = (record.topic, record.partition)
            last[key] = max(last.get(key, -1), record.offset)
        offsets = {TopicPartition(*partition): offset + 1 for partition, offset in last.items()}
        if self._thread is None:
            self._start()
        elif not self._thread.is_alive():  # the batch is sought back, for after a restart
            raise RuntimeError("the log's writer stopped on an error; see audit.writer_stopped")
        await self._in_thread(self._queue.put((ready, consumer, offsets)))

    async def close(self) -> None:
        """Let the queued batches be written, or give them up after ``CLOSE_SECONDS``."""
        self._closing = True
        if self._thread is None:
            return
        if self._thread.is_alive():  # else it stopped on an error, and its loop is closed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._in_thread(self._queue.join()), CLOSE_SECONDS)
            self._loop.call_soon_threadsafe(self._task.cancel)
        await asyncio.to_thread(self._thread.join)
        with contextlib.suppress(TimeoutError):  # the last offsets, if the consumer is up
            await asyncio.wait_for(self._commits.join(), CLOSE_SECONDS)
        if self._committer is not None:
            self._committer.cancel()

    async def _run(self) -> None:
        while True:
            # Whatever queued up while the last write ran goes into one transaction:
            # under load the writer catches up instead of paying for each small batch.
            waiting = [await self._queue.get()]
            while not self._queue.empty():
                waiting.append(self._queue.get_nowait())
            offsets: dict[TopicPartition, int] = {}
            for _, _, batch_offsets in waiting:
                for partition, offset in batch_offsets.items():
                    offsets[partition] = max(offsets.get(partition, 0), offset)
            await self._write(ingestion.merge([ready for ready, _, _ in waiting]))
            assert self._service_loop is not None
            self._service_loop.call_soon_threadsafe(
                self._commits.put_nowait, (waiting[-1][1], offsets)
            )
            for _ in waiting:
                self._queue.task_done()

    async def _write(self, ready: ingestion.Prepared) -> None:
        # Forever, backing off to 10 s: the offsets wait until the batch is in the log,
        # and nothing is skipped.
        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=0.2, min=0.2, max=10.0),
            retry=retry_if_exception_type(Exception),
            before_sleep=self._retrying,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self.connect()
                await ingestion.write(self._conn, self.audit_log, ready)

    def _retrying(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else None
        if exc is not None and is_transient(exc):
            if self._conn is not None:
                self._conn.terminate()  # the next attempt starts on a new connection
            log.warning("audit.append_retry", error=repr(exc), retry_in=delay)
        else:  # the batch waits, and its offsets with it
            log.error("audit.append_failed", error=repr(exc), retry_in=delay)

    async def _commit_in_order(self) -> None:
        while True:
            consumer, offsets = await self._commits.get()
            try:
                await consumer.commit(offsets)
            except Exception as exc:  # a rebalance took the partitions, or the consumer
                # stopped: the batch will be read again and its copies turned away
                log.warning("audit.commit_failed", error=repr(exc), offsets=len(offsets))
            finally:
                self._commits.task_done()
