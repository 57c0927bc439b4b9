"""Every Kafka producer the project makes, with its delivery guarantees set explicitly.

aiokafka's defaults are ``acks=1`` and no idempotence: a write that the partition's
leader took and lost before a follower copied it was acknowledged all the same, and a
send retried after a lost answer could be written twice. Every producer made here waits
for all in-sync replicas (``acks="all"``: on a cluster whose topics have
``min.insync.replicas=2``, at least two copies before the answer) and is idempotent
(the broker drops a retried batch it already has). The services' FastStream brokers,
whose producer sends the dead letters, take the same settings.

Nothing else constructs an ``AIOKafkaProducer`` or a ``KafkaBroker``:
``tests/shared/test_producers.py`` reads every module of the project and fails on one
that does.
"""

from types import MappingProxyType
from typing import Any, Final, Literal

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

ACKS: Final[Literal["all"]] = "all"
IDEMPOTENCE: Final = True
DELIVERY: Final = MappingProxyType({"acks": ACKS, "enable_idempotence": IDEMPOTENCE})
"""The settings every producer gets, and may not override."""


def _refuse_overrides(options: dict[str, Any]) -> None:
    clash = sorted(DELIVERY.keys() & options.keys())
    if clash:
        raise ValueError(
            f"{', '.join(clash)}: set by shared.producers for every producer "
            f"({dict(DELIVERY)}); a producer may not weaken them"
        )


def create_producer(bootstrap_servers: str, **options: Any) -> AIOKafkaProducer:
    """An aiokafka producer with ``acks="all"`` and idempotence, and ``options`` besides
    (``transactional_id``, ``linger_ms``, ``client_id`` ...)."""
    _refuse_overrides(options)
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks=ACKS, enable_idempotence=IDEMPOTENCE, **options
    )


def create_kafka_broker(bootstrap_servers: str, **options: Any) -> KafkaBroker:
    """A FastStream broker whose producer has ``acks="all"`` and idempotence.

    ``bootstrap_servers`` may name several brokers, comma-separated (as
    ``KAFKA_BOOTSTRAP_SERVERS`` does): FastStream hands a string to aiokafka as one
    address, so it is split here.
    """
    _refuse_overrides(options)
    servers = [server.strip() for server in bootstrap_servers.split(",") if server.strip()]
    return KafkaBroker(servers, acks=ACKS, enable_idempotence=IDEMPOTENCE, **options)
