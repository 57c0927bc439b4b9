"""Every Kafka producer the project makes waits for all in-sync replicas and is idempotent.

aiokafka's defaults are ``acks=1`` and no idempotence; ``shared.producers`` sets both on
every producer, and these tests fail if a module anywhere in the project constructs a
producer or a FastStream broker without it.
"""

import ast
from pathlib import Path

import pytest

from shared.app import create_broker
from shared.producers import DELIVERY, create_kafka_broker, create_producer
from tests.support import ROOT

PACKAGES = ("shared", "services", "tests", "bench", "deploy", "devtools", "client", "privacyctl")
CONSTRUCTORS = frozenset({"AIOKafkaProducer", "KafkaBroker"})
THE_WRAPPER = ROOT / "shared" / "producers.py"


def _modules() -> list[Path]:
    return [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]


def _constructions(path: Path) -> list[str]:
    """Where ``path`` calls a producer's or broker's constructor (or renames one on import)."""
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in CONSTRUCTORS:
                found.append(f"{where}:{node.lineno} calls {name}(...)")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name in CONSTRUCTORS and alias.asname not in (None, alias.name):
                    found.append(f"{where}:{node.lineno} imports {alias.name} as {alias.asname}")
    return found


def test_no_module_but_shared_producers_constructs_a_producer_or_a_broker() -> None:
    modules = _modules()
    assert len(modules) > 100, "the project's modules were not found"
    offenders = [hit for path in modules if path != THE_WRAPPER for hit in _constructions(path)]
    assert offenders == [], "use shared.producers (acks=all, idempotence):\n" + "\n".join(offenders)


def test_the_scan_finds_a_producer_made_by_hand(tmp_path: Path) -> None:
    rogue = tmp_path / "rogue.py"
    source = (
        "from aiokafka import AIOKafkaProducer as Producer\n"
        "import aiokafka\n"
        "p = aiokafka.AIOKafkaProducer(bootstrap_servers='x')\n"
    )
    rogue.write_text(source)
    assert sorted(hit.split(" ", 1)[1] for hit in _constructions(rogue)) == [
        "calls AIOKafkaProducer(...)",
        "imports AIOKafkaProducer as Producer",
    ]


async def test_a_producer_waits_for_every_in_sync_replica_and_is_idempotent() -> None:
    producer = create_producer("127.0.0.1:1", linger_ms=5, client_id="a-test")
    # aiokafka keeps acks as the protocol's number: -1 is "all"; a transaction manager
    # exists exactly when the producer is idempotent.
    assert producer._sender._acks == -1
    assert producer._txn_manager is not None


async def test_a_transactional_producer_keeps_the_guarantees() -> None:
    producer = create_producer("127.0.0.1:1", transactional_id="outbox-relay.x")
    assert producer._sender._acks == -1
    assert producer._txn_manager is not None
    assert producer._txn_manager.transactional_id == "outbox-relay.x"


@pytest.mark.parametrize("weaker", [{"acks": 1}, {"acks": 0}, {"enable_idempotence": False}])
def test_a_producer_may_not_weaken_the_guarantees(weaker: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(weaker))):
        create_producer("127.0.0.1:1", **weaker)
    with pytest.raises(ValueError, match=next(iter(weaker))):
        create_kafka_broker("127.0.0.1:1", **weaker)


def test_every_service_broker_publishes_with_the_guarantees() -> None:
    from services.registry.config import RegistrySettings

    broker = create_broker(RegistrySettings())
    options = broker._connection_kwargs
    assert {k: options[k] for k in DELIVERY} == dict(DELIVERY)


def test_a_broker_bootstraps_from_each_of_several_brokers() -> None:
    # FastStream hands a plain string to aiokafka as one address: "a:1,b:2" never resolved.
    broker = create_kafka_broker("127.0.0.1:29092, 127.0.0.1:29094,127.0.0.1:29096")
    assert broker._connection_kwargs["bootstrap_servers"] == [
        "127.0.0.1:29092",
        "127.0.0.1:29094",
        "127.0.0.1:29096",
    ]
