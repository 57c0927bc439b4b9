"""The outbox has one writer and consumer batches one reader, both in ``shared/``: a
module elsewhere that writes the outbox table, or decodes and dead-letters a batch by
hand, fails here (``shared.outbox`` and ``shared.kafka.subscribe_batch`` do it)."""

import re
from pathlib import Path

import pytest

from tests.support import ROOT

OUTSIDE_SHARED = ("services", "devtools", "bench", "deploy")

OUTBOX_WRITES = re.compile(
    r"INSERT\s+INTO\s+(\"?\w+\"?\.)?outbox\b|COPY\s+(\"?\w+\"?\.)?outbox\b"
    r"|UPDATE\s+(\"?\w+\"?\.)?outbox\b|OutboxMessage\(|OutboxMessage\.__table__",
    re.IGNORECASE,
)
BATCHES_BY_HAND = re.compile(r"batch=True|\.raw_message\b|dead_letter_record\(|AckPolicy\.")


def sources() -> list[Path]:
    return sorted(
        path
        for folder in OUTSIDE_SHARED
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    )


@pytest.mark.parametrize(
    ("pattern", "what"),
    [(OUTBOX_WRITES, "writes the outbox"), (BATCHES_BY_HAND, "reads a consumer batch by hand")],
)
def test_no_module_outside_shared_does_what_shared_does_once(
    pattern: re.Pattern[str], what: str
) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group()}"
        for path in sources()
        for text in [path.read_text()]
        for match in pattern.finditer(text)
    ]
    assert not found, f"{what} outside shared/:\n" + "\n".join(found)


def test_the_scan_finds_what_it_looks_for() -> None:
    assert OUTBOX_WRITES.search('text("INSERT INTO outbox (event_id) VALUES (:e)")')
    assert OUTBOX_WRITES.search("session.add(OutboxMessage(event_id=e))")
    assert BATCHES_BY_HAND.search("for record in message.raw_message:")
    assert len(sources()) > 50
