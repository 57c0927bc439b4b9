"""The audit's Kafka side, without a broker: what its batch parser leaves for telemetry."""

import uuid

from aiokafka import ConsumerRecord
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaBatchParser
from faststream.opentelemetry.middleware import _get_msg_links
from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.sdk.util import BoundedList

from services.audit import handlers


def record(offset: int) -> ConsumerRecord[bytes, bytes]:
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    headers = (
        ("traceparent", f"00-{trace_id}-{span_id}-01".encode()),
        ("correlation_id", str(uuid.uuid4()).encode()),
    )
    return ConsumerRecord("t", 0, offset, 0, 0, None, b"{}", None, 2, 0, headers)


async def test_the_batch_span_keeps_the_same_links_from_fewer_headers() -> None:
    records = tuple(record(offset) for offset in range(1000))
    parser = AioKafkaBatchParser(msg_class=KafkaMessage, regex=None)
    full = await parser.parse_batch(records)
    trimmed = await handlers.last_headers_only(records, parser.parse_batch)
    assert len(trimmed.batch_headers) == handlers.LINKED_RECORDS < len(records)
    assert trimmed.body == full.body  # every record is still read
    # OpenTelemetry keeps a span's last max_links links; FastStream made one per record
    kept = BoundedList.from_seq(SpanLimits().max_links, _get_msg_links(full))
    assert [link.context for link in kept] == [link.context for link in _get_msg_links(trimmed)]
    assert SpanLimits().max_links == handlers.LINKED_RECORDS
