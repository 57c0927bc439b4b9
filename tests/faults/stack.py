"""Every service as a real process against the fault suite's three-broker cluster.

Two consent replicas (a change taken by one reaches the other through Kafka: the check
that every change was applied by every replica), one of each other service, an SMTP
server, fresh schemas on the shared PostgreSQL and topics of the run's own, made with
three copies and ``min.insync.replicas=2`` (devtools/cluster.py's ``env``).
"""

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text

from devtools.cluster import Cluster
from devtools.topics import drop_topics, topic_prefix
from shared.db import create_engine
from tests.replicas.stack import Replica
from tests.services.notifier.support import SmtpServer
from tests.support import DATABASE_URL, free_port, unique, wait_ready

# (service, replicas), in the order they start: consent before the registry that asks it.
LAYOUT = (("consent", 2), ("registry", 1), ("audit", 1), ("breach", 1), ("notifier", 1))


@dataclass
class Stack:
    cluster: Cluster
    schemas: dict[str, str]
    smtp: SmtpServer
    logs: Path
    prefix: str
    replicas: dict[str, list[Replica]] = field(default_factory=dict)

    def url(self, service: str, index: int = 0) -> str:
        return self.replicas[service][index].url

    def all(self) -> list[Replica]:
        return [r for rs in self.replicas.values() for r in rs]

    async def not_ready(self) -> list[str]:
        """The replicas whose /readyz does not answer 200, with what they said."""
        found = []
        async with httpx.AsyncClient(timeout=5) as client:
            for replica in self.all():
                try:
                    answer = await client.get(f"{replica.url}/readyz")
                    if answer.status_code != 200:
                        found.append(f"{replica.service}[{replica.index}]: {answer.text[:300]}")
                except httpx.TransportError as exc:
                    found.append(f"{replica.service}[{replica.index}]: {exc!r}")
        return found

    def tail(self) -> str:
        parts = []
        for replica in self.all():
            lines = replica.log.read_text(errors="replace").splitlines()[-12:]
            parts.append(f"--- {replica.service}[{replica.index}]\n" + "\n".join(lines))
        return "\n".join(parts)


def _env(
    service: str, schema: str, port: int, prefix: str, cluster: Cluster, extra: dict[str, str]
) -> dict[str, str]:
    name = service.upper()
    return {
        **cluster.env(),
        f"{name}_DB_SCHEMA": schema,
        f"{name}_TOPIC_PREFIX": prefix,
        f"{name}_HTTP_PORT": str(port),
        f"{name}_LOG_LEVEL": "WARNING",
        f"{name}_LOG_JSON": "true",
        f"{name}_OUTBOX_POLL_SECONDS": "0.2",
        f"{name}_DB_POOL_SIZE": "5",
        **{f"{name}_{k}": v for k, v in extra.items()},
    }


async def start(cluster: Cluster) -> Stack:
    """The stack, every process ready; stop it with :func:`stop`."""
    logs = Path(tempfile.mkdtemp(prefix="faults-"))
    smtp = SmtpServer(logs / "smtp")
    await smtp.start()
    stack = Stack(
        cluster=cluster,
        schemas={s: unique(f"t_flt_{s}") for s, _ in LAYOUT},
        smtp=smtp,
        logs=logs,
        prefix=topic_prefix("t_flt"),
    )
    ports = {s: [free_port() for _ in range(n)] for s, n in LAYOUT}
    extras = {
        "consent": {},
        "registry": {"CONSENT_URL": f"http://127.0.0.1:{ports['consent'][0]}"},
        "audit": {"TREE_HEAD_SECONDS": "0.5", "CHECK_SECONDS": "0.5", "CHECK_GRACE_SECONDS": "0.5"},
        "breach": {
            "AUDIT_URL": f"http://127.0.0.1:{ports['audit'][0]}",
            "RESOLVE_SECONDS": "0.3",
            "CLOCK_TICK_SECONDS": "0.5",
        },
        "notifier": {
            "SMTP_PORT": str(smtp.port),
            "SMTP_RATE_PER_SECOND": "0",
            "SMTP_BACKOFF_SECONDS": "0.05",
            "NO_CONTACT_GRACE_SECONDS": "120",
        },
    }
    for service, count in LAYOUT:
        stack.replicas[service] = []
        for i in range(count):
            port = ports[service][i]
            replica = Replica(
                service=service,
                index=i,
                port=port,
                env=_env(
                    service, stack.schemas[service], port, stack.prefix, cluster, extras[service]
                ),
                log=logs / f"{service}-{i}.log",
            )
            replica.spawn()
            stack.replicas[service].append(replica)
    try:
        for replica in stack.all():
            await asyncio.to_thread(
                wait_ready, f"{replica.url}/readyz", timeout=180, process=replica.process
            )
    except BaseException:
        await stop(stack)
        raise
    return stack


async def stop(stack: Stack) -> None:
    """Stop every process and the SMTP server; drop the schemas and the run's topics."""
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
    await drop_topics(stack.prefix, bootstrap=stack.cluster.bootstrap)
