"""Helpers for tests that talk to the real broker and database.

They live in :mod:`devtools`, which the benchmarks use too; this re-exports them so
that tests import them from one place.
"""

from devtools.probe import ProbeEvent, ProbePayload, make_probe, probe_event
from devtools.stack import (
    DATABASE_URL,
    KAFKA,
    ROOT,
    free_port,
    start_service,
    unique,
    wait_ready,
    wait_until,
)
from devtools.topics import (
    drop_topics,
    end_offsets,
    event_ids,
    produce,
    read_topic,
    topic_prefix,
)

__all__ = [
    "DATABASE_URL",
    "KAFKA",
    "ROOT",
    "ProbeEvent",
    "ProbePayload",
    "drop_topics",
    "end_offsets",
    "event_ids",
    "free_port",
    "make_probe",
    "probe_event",
    "produce",
    "read_topic",
    "start_service",
    "topic_prefix",
    "unique",
    "wait_ready",
    "wait_until",
]
