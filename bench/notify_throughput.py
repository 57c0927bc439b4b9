"""Notifier throughput against the raw SMTP rate, in the same run.

    .venv/bin/python -m bench.notify_throughput [NOTICES] [SESSIONS]

Raw: the same messages (rendered by the notifier's templates for the same people)
sent straight to the local SMTP server with aiosmtplib over SESSIONS sessions, each
sending one message after another. Measured: the notifier, in a process of its own with
SESSIONS sessions and no rate limit, consuming NOTICES ``breach.notification_requested``
events published at once, from the first publish until every notice's outcome is
committed. Both send to one local SMTP server (deploy/local/smtp_server.py) in a process
of its own. Needs `make up`; prints one JSON line.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
import httpx
from sqlalchemy import text

from devtools.notifier import SmtpServer, publish, registered, request
from devtools.stack import DATABASE_URL, ROOT, free_port, wait_until
from devtools.topics import drop_topics
from services.notifier.config import NotifierSettings
from services.notifier.domain import Recipient, message_id
from services.notifier.messages import Templates, build_message
from shared.db import create_engine


def messages(folks: list[tuple[str, str]], breach: str, settings: NotifierSettings) -> list[bytes]:
    """What the notifier would send each person (request() holds the same text)."""
    templates = Templates.load(settings.templates_dir)
    out = []
    for user, address in folks:
        context = request(user, breach).payload.model_dump()
        rendered = templates.render("breach_notice", "en", context | {"recipient_name": "Ana"})
        out.append(
            build_message(
                rendered,
                sender=settings.smtp_from,
                recipient=Recipient(address, "Ana Cruz", "en"),
                message_id=message_id(f"breach:{breach}:{user}", settings.id_domain),
                date=datetime.now(UTC),
            )
        )
    return out


async def raw(
    server: SmtpServer, sessions: int, addresses: list[str], data: list[bytes]
) -> tuple[float, dict[str, float]]:
    """Seconds to send every message straight to the server over ``sessions`` sessions,
    and the CPU it took."""
    port = server.port
    work = iter(zip(addresses, data, strict=True))

    async def session() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        for address, message in work:
            await smtp.sendmail("notices@privacy-events.local", [address], message)
        await smtp.quit()

    assert server.process is not None
    meter = Meter({"client": os.getpid(), "smtp_server": server.process.pid})
    started = time.perf_counter()
    await asyncio.gather(*(session() for _ in range(sessions)))
    return time.perf_counter() - started, meter.per_message(len(data))


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used so far (all cores)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU milliseconds per message of the processes of one phase, and of the machine."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return now | {"machine": machine_busy_seconds()}

    def per_message(self, messages: int) -> dict[str, float]:
        """What each used since the meter started, in ms a message."""
        end = self._now()
        return {k: round((end[k] - self.start[k]) * 1000 / messages, 3) for k in end}


async def count(engine: object, sql: str) -> int:
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        try:
            return int((await conn.execute(text(sql))).scalar_one())
        except Exception:  # the notifier has not migrated its schema yet
            return -1


PROFILED = """
import cProfile, runpy, sys, time
profile = cProfile.Profile(time.process_time)
try:
    profile.runcall(runpy.run_module, "services.notifier.main", run_name="__main__")
finally:
    profile.dump_stats(sys.argv[1])
"""
"""The notifier under cProfile counting CPU time, not wall time: on a shared machine
wall time charges whatever waited for a core to the function that happened to run."""


def spawn(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # BENCH_PROFILE=<file>: run the notifier under cProfile, its statistics written there.
    profile = os.environ.get("BENCH_PROFILE")
    command = ["-c", PROFILED, profile] if profile else ["-m", "services.notifier.main"]
    return subprocess.Popen(
        [sys.executable, *command],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def notifier(
    schema: str, server: SmtpServer, sessions: int, folks: list[tuple[str, str]], breach: str
) -> tuple[float, dict[str, int], dict[str, float]]:
    """Seconds from the first request published to the last outcome committed, the
    states reached, and the CPU it took."""
    prefix, port, smtp_port = f"{schema}.", free_port(), server.port
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NOTIFIER_DB_SCHEMA": schema,
        "NOTIFIER_TOPIC_PREFIX": prefix,
        "NOTIFIER_HTTP_PORT": str(port),
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "NOTIFIER_SMTP_SESSIONS": str(sessions),
        "NOTIFIER_SMTP_RATE_PER_SECOND": "0",
        "LOG_LEVEL": "WARNING",
    }
    process = spawn(env)
    engine = create_engine(DATABASE_URL, schema, pool_size=1)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        for i in range(0, len(folks), 5000):
            await publish(prefix, *(registered(u, a) for u, a in folks[i : i + 5000]))

        async def loaded() -> bool:
            return await count(engine, "SELECT count(*) FROM contacts") >= len(folks)

        await wait_until(loaded, 600, "the contacts to be loaded")
        assert server.process is not None
        meter = Meter({"notifier": process.pid, "smtp_server": server.process.pid})
        started = time.perf_counter()
        for i in range(0, len(folks), 5000):
            await publish(prefix, *(request(u, breach) for u, _ in folks[i : i + 5000]))

        async def settled() -> bool:
            done = await count(engine, "SELECT count(*) FROM deliveries WHERE state <> 'claimed'")
            if os.environ.get("BENCH_TRACE"):  # progress on stderr: seconds, notices settled
                sys.stderr.write(f"{time.perf_counter() - started:.1f}s {done}\n")
            return done >= len(folks)

        await wait_until(settled, 3600, "every notice to settle")
        elapsed = time.perf_counter() - started
        cpu = meter.per_message(len(folks))
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT state, count(*) FROM deliveries GROUP BY 1"))
            states = {state: int(n) for state, n in rows}
        return elapsed, states, cpu
    finally:
        # SIGINT under cProfile: uvicorn ends on it the same way, and the profile is written.
        process.send_signal(signal.SIGINT if os.environ.get("BENCH_PROFILE") else signal.SIGTERM)
        await asyncio.to_thread(process.wait, 60)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
        await drop_topics(prefix)


async def main(total: int, sessions: int) -> None:
    tag = uuid.uuid4().hex[:8]
    folks = [(f"u-{tag}-{i}", f"p{i}.{tag}@example.org") for i in range(total)]
    breach = f"b-bench-{tag}"
    settings = NotifierSettings()
    data = messages(folks, breach, settings)
    with tempfile.TemporaryDirectory() as tmp:
        server = SmtpServer(Path(tmp) / "raw")
        await server.start()
        try:
            raw_seconds, raw_cpu = await raw(server, sessions, [a for _, a in folks], data)
        finally:
            await server.stop(signal.SIGTERM)
        server = SmtpServer(Path(tmp) / "notifier")
        await server.start()
        try:
            schema = f"bench_notify_{tag}"
            seconds, states, cpu = await notifier(schema, server, sessions, folks, breach)
            received = len(list((Path(tmp) / "notifier" / "new").iterdir()))
        finally:
            await server.stop(signal.SIGTERM)
    raw_rate, rate = total / raw_seconds, total / seconds
    print(
        json.dumps(
            {
                "notices": total,
                "sessions": sessions,
                "raw_seconds": round(raw_seconds, 2),
                "raw_per_second": round(raw_rate),
                "notifier_seconds": round(seconds, 2),
                "notifier_per_second": round(rate),
                "ratio": round(rate / raw_rate, 3),
                "states": states,
                "emails_received": received,
                "cpu_ms_per_message": {"raw": raw_cpu, "notifier": cpu},
                "load_average": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 20_000,
            int(sys.argv[2]) if len(sys.argv) > 2 else 4,
        )
    )
