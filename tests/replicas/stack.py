"""Two replicas of every service as real processes, started as deploy/local/services.sh
starts one (``python -m services.<name>.main``), on free ports, against the shared broker
and database.

The two replicas of a service share its schema (a fresh one per run) and so its consumer
groups (``<schema>.<topic>``), its outbox and its relay lock: that is what a replica is.
Replica ``i`` of the registry asks replica ``i`` of consent, and replica ``i`` of breach
asks replica ``i`` of audit, so each path crosses replicas that did not take the change.
"""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text

from shared.db import create_engine
from tests.services.notifier.support import SmtpServer
from tests.support import (
    DATABASE_URL,
    KAFKA,
    ROOT,
    drop_topics,
    free_port,
    topic_prefix,
    unique,
    wait_ready,
)

SERVICES = ("consent", "registry", "audit", "breach", "notifier")
REPLICAS = 2


@dataclass
class Replica:
    service: str
    index: int
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        """Start the process (not waiting for it to be ready)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.service}.main"],
                cwd=ROOT,
                env={**os.environ, **self.env, "PYTHONPATH": str(ROOT)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL, as a crashed node: no shutdown, no goodbye to the broker."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class Replicas:
    """The running replicas, by service, and the schemas they share."""

    schemas: dict[str, str]
    smtp: SmtpServer
    logs: Path
    prefix: str
    """Before every topic of this stack's: it reads only the events it makes."""
    replicas: dict[str, list[Replica]] = field(default_factory=dict)

    def urls(self, service: str) -> list[str]:
        return [r.url for r in self.replicas[service]]

    def live_urls(self, service: str) -> list[str]:
        """The replicas of ``service`` still running (a test before may have killed one)."""
        return [r.url for r in self.replicas[service] if r.process and r.process.poll() is None]

    def all(self) -> list[Replica]:
        return [r for rs in self.replicas.values() for r in rs]

    def tail(self) -> str:
        """The last lines of every replica's log, for a failure's message."""
        parts = []
        for replica in self.all():
            lines = replica.log.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {replica.service}[{replica.index}]\n" + "\n".join(lines))
        return "\n".join(parts)


def _env(
    service: str, schema: str, port: int, topics: str, extra: Mapping[str, str]
) -> dict[str, str]:
    prefix = service.upper()
    return {
        f"{prefix}_DB_SCHEMA": schema,
        f"{prefix}_TOPIC_PREFIX": topics,
        f"{prefix}_HTTP_PORT": str(port),
        f"{prefix}_LOG_LEVEL": "WARNING",
        f"{prefix}_LOG_JSON": "true",
        f"{prefix}_OUTBOX_POLL_SECONDS": "0.2",
        **{f"{prefix}_{k}": v for k, v in extra.items()},
    }


async def start() -> Replicas:
    """Two replicas of every service, all ready; stop them with :func:`stop`."""
    logs = Path(tempfile.mkdtemp(prefix="replicas-"))
    smtp = SmtpServer(logs / "smtp")
    await smtp.start()
    stack = Replicas(
        schemas={s: unique(f"t_rep_{s}") for s in SERVICES},
        smtp=smtp,
        logs=logs,
        prefix=topic_prefix("t_rep"),
    )
    ports = {s: [free_port() for _ in range(REPLICAS)] for s in SERVICES}
    for service in SERVICES:
        stack.replicas[service] = []
        for i in range(REPLICAS):
            extra = {
                "consent": {},
                "registry": {"CONSENT_URL": f"http://127.0.0.1:{ports['consent'][i]}"},
                "audit": {
                    "TREE_HEAD_SECONDS": "0.3",
                    "CHECK_SECONDS": "0.5",
                    "CHECK_GRACE_SECONDS": "0.5",
                },
                "breach": {
                    "AUDIT_URL": f"http://127.0.0.1:{ports['audit'][i]}",
                    "RESOLVE_SECONDS": "0.3",
                    "CLOCK_TICK_SECONDS": "0.5",
                },
                "notifier": {
                    "SMTP_PORT": str(smtp.port),
                    "SMTP_RATE_PER_SECOND": "0",
                    "SMTP_BACKOFF_SECONDS": "0.05",
                    "NO_CONTACT_GRACE_SECONDS": "10",
                },
            }[service]
            port = ports[service][i]
            replica = Replica(
                service=service,
                index=i,
                port=port,
                env=_env(service, stack.schemas[service], port, stack.prefix, extra),
                log=logs / f"{service}-{i}.log",
            )
            replica.spawn()
            stack.replicas[service].append(replica)
    try:
        for replica in stack.all():
            await asyncio.to_thread(
                wait_ready, f"{replica.url}/readyz", timeout=120, process=replica.process
            )
    except BaseException:
        await stop(stack)
        raise
    return stack


async def stop(stack: Replicas) -> None:
    """Stop every replica and the SMTP server; drop the schemas."""
    for replica in stack.all():
        replica.terminate()
    await stack.smtp.stop()
    engine = create_engine(DATABASE_URL, "public", pool_size=1)
    try:
        async with engine.begin() as conn:
            for name in stack.schemas.values():
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        await engine.dispose()
    await drop_topics(stack.prefix)


async def read_from(
    topic: str,
    start: Mapping[TopicPartition, int],
    *,
    until: Callable[[list[tuple[bytes, bytes]]], bool],
    timeout: float = 60,
) -> list[tuple[bytes, bytes]]:
    """(key, value) of the committed records after ``start`` once ``until`` holds, and a
    second more (a late duplicate would show)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=KAFKA, isolation_level="read_committed", enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        records: list[tuple[bytes, bytes]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settle_until: float | None = None
        while settle_until is None or loop.time() < settle_until:
            if loop.time() > deadline:
                raise TimeoutError(f"{topic}: condition not met; {len(records)} records read")
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend((r.key or b"", r.value or b"") for r in batch)
            if settle_until is None and until(records):
                settle_until = loop.time() + 1.0
        return records
    finally:
        await consumer.stop()
