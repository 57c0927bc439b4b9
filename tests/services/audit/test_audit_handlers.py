"""The audit's Kafka side, without a broker: what its batch parser leaves for telemetry."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaBatchParser
from faststream.opentelemetry.middleware import _get_msg_links
from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.sdk.util import BoundedList

from services.audit import ingest
from shared import events
from shared.kafka import decode_records


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
    trimmed = await ingest.last_headers_only(records, parser.parse_batch)
    assert len(trimmed.batch_headers) == ingest.LINKED_RECORDS < len(records)
    assert trimmed.body == full.body  # every record is still read
    # OpenTelemetry keeps a span's last max_links links; FastStream made one per record
    kept = BoundedList.from_seq(SpanLimits().max_links, _get_msg_links(full))
    assert [link.context for link in kept] == [link.context for link in _get_msg_links(trimmed)]
    assert SpanLimits().max_links == ingest.LINKED_RECORDS


class FakeBroker:
    """Records what would have been published."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, str]]] = []

    async def publish(self, value: bytes, *, topic: str, key: Any, headers: Any) -> None:
        self.published.append((topic, headers))


async def test_a_consent_change_without_its_event_id_is_dead_lettered() -> None:
    change = events.ConsentGranted.create(
        producer="consent",
        subject_id="u-1",
        payload=events.ConsentChangedPayload(
            consent_id="c-1",
            version=1,
            user_id="u-1",
            purpose="member_organisation_sharing",
            notice_version="2024-01-11",
            valid_from=datetime(2026, 1, 1, tzinfo=UTC),
            organisation_id=None,
            country=None,
            data_categories=[],
            valid_until=None,
        ),
    )
    body = json.loads(change.to_bytes())
    del body["event_id"]
    consumed = (
        ConsumerRecord(events.CONSENT_GRANTED, 0, 0, 0, 0, None, change.to_bytes(), None, 0, 0, ()),
        ConsumerRecord(
            events.CONSENT_GRANTED, 0, 1, 0, 0, None, json.dumps(body).encode(), None, 0, 0, ()
        ),
    )
    broker = FakeBroker()
    parsed, _ = await decode_records(
        consumed, events.ConsentGranted, accept=None, check=ingest.complete, broker=broker
    )

    assert [e.event_id for e in parsed] == [change.event_id]
    assert [(t, h["dlq-reason"]) for t, h in broker.published] == [
        (events.dlq_topic(events.CONSENT_GRANTED), "invalid event: event_id: Field required")
    ]
