"""The local three-broker Kafka cluster (``deploy/local/kafka.sh`` with ``KAFKA_NODES=3``),
driven by the fault suite: started, nodes killed, their disks lost, started again.

It has ports and a data directory of its own beside the single node the other tests use
(``FAULT_KAFKA_PORT``, 29092, 29094, 29096; controllers ``FAULT_KAFKA_CONTROLLER_PORT``,
29093, 29095, 29097; ``$PRIVACY_LOCAL_DIR/kafka-cluster``), so a fault injected into it
touches nothing else.
"""

import asyncio
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from devtools.stack import ROOT

SCRIPT = ROOT / "deploy" / "local" / "kafka.sh"
NODES = 3


class ClusterError(RuntimeError):
    """kafka.sh failed; the message holds what it said."""


@dataclass
class Cluster:
    """The cluster's nodes (1..``nodes``), as kafka.sh numbers them."""

    nodes: int = NODES
    port: int = field(default_factory=lambda: int(os.environ.get("FAULT_KAFKA_PORT", "29092")))
    controller_port: int = field(
        default_factory=lambda: int(os.environ.get("FAULT_KAFKA_CONTROLLER_PORT", "29093"))
    )

    def port_of(self, node: int) -> int:
        return self.port + 2 * (node - 1)

    @property
    def bootstrap(self) -> str:
        """Every node's address: a client bootstraps from whichever answers."""
        return ",".join(f"127.0.0.1:{self.port_of(n)}" for n in range(1, self.nodes + 1))

    def env(self) -> dict[str, str]:
        """What a service on this cluster is given: where it is, and topics made with
        three copies of which two must hold a write before it is acknowledged."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_REPLICATION_FACTOR": str(min(self.nodes, 3)),
            "KAFKA_MIN_INSYNC_REPLICAS": str(max(min(self.nodes, 3) - 1, 1)),
        }

    def _run(self, *args: str, timeout: float = 400) -> str:
        environment = {
            **os.environ,
            "KAFKA_NODES": str(self.nodes),
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
        }
        done = subprocess.run(
            ["bash", str(SCRIPT), *args],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise ClusterError(f"kafka.sh {' '.join(args)}: {done.stdout}{done.stderr}".strip())
        return done.stdout

    async def run(self, *args: str) -> str:
        return await asyncio.to_thread(self._run, *args)

    async def running(self) -> list[int]:
        """The nodes whose process is alive."""
        status = await self.run("status")
        return [int(n) for n in re.findall(r"kafka node (\d+): running", status)]

    async def start(self) -> None:
        """Every node that is not running, then wait until each broker answers."""
        await self.run("start")
        await self.wait_brokers()

    async def stop(self) -> None:
        await self.run("stop")

    async def kill(self, node: int) -> None:
        """SIGKILL: the machine gone, no goodbye to the controller."""
        await self.run("kill-node", str(node))

    async def wipe(self, node: int) -> None:
        """Lose a stopped node's data directory (its disk); its next start formats it."""
        await self.run("wipe-node", str(node))

    async def start_node(self, node: int) -> None:
        await self.run("start-node", str(node))

    async def controller(self) -> int:
        """The node id of the active KRaft controller (the quorum's leader)."""
        out = (await self.run("controller")).strip()
        if not out.isdigit():
            raise ClusterError(f"kafka.sh controller answered {out!r}")
        return int(out)

    async def wait_brokers(self, timeout: float = 120) -> None:
        """Until the cluster's metadata lists every running node as a broker."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        wanted = set(await self.running())
        while True:
            try:
                if wanted <= await self.brokers():
                    return
            except Exception:  # a broker still starting refuses connections
                if loop.time() > deadline:
                    raise
            if loop.time() > deadline:
                raise TimeoutError(f"brokers {sorted(wanted)} not all registered")
            await asyncio.sleep(0.5)

    async def brokers(self) -> set[int]:
        """The brokers the cluster's metadata lists as up (not fenced)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            described: Any = await admin.describe_cluster()
            return {int(b["node_id"]) for b in described["brokers"]}
        finally:
            await admin.close()

    async def in_sync(self, topic: str) -> dict[int, list[int]]:
        """Each partition of ``topic`` and its in-sync replicas."""
        return {p: isr for p, (_, isr) in (await self.partitions(topic)).items()}

    async def leaders(self, topic: str) -> dict[int, int]:
        """Each partition of ``topic`` and the node that leads it."""
        return {p: leader for p, (leader, _) in (await self.partitions(topic)).items()}

    async def partitions(self, topic: str) -> dict[int, tuple[int, list[int]]]:
        """Each partition of ``topic``: its leader and its in-sync replicas."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            described: Any = await admin.describe_topics([topic])
        finally:
            await admin.close()
        return {
            int(p["partition"]): (int(p["leader"]), sorted(int(r) for r in p["isr"]))
            for t in described
            for p in t["partitions"]
        }

    async def wait_in_sync(
        self, topics: list[str], replicas: set[int], timeout: float = 120
    ) -> None:
        """Until every partition of ``topics`` has exactly ``replicas`` in sync."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: dict[str, dict[int, list[int]]] = {}
        while True:
            try:
                last = {t: await self.in_sync(t) for t in topics}
                if all(set(isr) == replicas for t in last.values() for isr in t.values()):
                    return
            except Exception:
                if loop.time() > deadline:
                    raise
            if loop.time() > deadline:
                raise TimeoutError(f"in-sync replicas not {sorted(replicas)}: {last}")
            await asyncio.sleep(0.5)
