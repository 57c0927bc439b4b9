"""``audit_native`` (the log's native hot path) against the Python reading it speeds up:
for every record it takes, the same event id, leaf hash and COPY rows, byte for byte;
what it does not take, Python reads (or refuses) instead."""

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.audit import ingestion, merkle, pgcopy, records, repository
from services.audit.domain import timestamp
from tests.services.audit.test_audit_records import valid

# built by `make venv` (with cargo); without it the service reads in Python, and these
# comparisons have nothing to compare
audit_native = pytest.importorskip("audit_native")

NOW = datetime(2026, 11, 23, 9, 30, 0, 654321, tzinfo=UTC)
MICROS = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
ALPHABET = [
    "a",
    "Z",
    "0",
    " ",
    '"',
    "\\",
    "\n",
    "\t",
    "\r",
    "\b",
    "\f",
    "\x01",
    "\x1f",
    "\x7f",
    "é",
    "€",
    "😀",
    "\u2028",
    "/",
]


def text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6)))


def rare(rng: random.Random, common: Any, *others: Any) -> Any:
    """Mostly ``common``; one of ``others`` one time in ten."""
    return rng.choice(others) if rng.random() < 0.1 else common


def moment(rng: random.Random) -> str:
    year = rng.choice([1, 2, 1970, 2000, 2026, 9999, rng.randint(1, 9999)])
    stamp = (
        f"{year:04d}-{rng.randint(1, 12):02d}-{rng.choice([1, 28, 29, 30, 31]):02d}"
        f"{rare(rng, 'T', ' ', 't')}"
        f"{rare(rng, rng.randint(0, 23), 24, 0, 23):02d}:{rng.randint(0, 59):02d}"
        f":{rare(rng, rng.randint(0, 59), 60, 0, 59):02d}"
    )
    digits = rng.choice([0, 0, 1, 3, 6, 6, 7, 9])
    if digits:
        stamp += "." + "".join(rng.choice("0123456789") for _ in range(digits))
    zone = rare(
        rng,
        rng.choice(["", "Z", "+00:00", "+05:30", "-08:00"]),
        *["z", "-00:00", "+23:59", "-23:59", "+24:00", "+0530"],
    )
    return stamp + zone


def mutated(rng: random.Random) -> bytes:
    body = valid()
    p = body["payload"]
    body["event_id"] = rare(rng, body["event_id"], body["event_id"].upper(), "not-a-uuid")
    for name in ("organisation_id", "actor", "subject_id", "purpose", "channel"):
        if rng.random() < 0.5:
            p[name] = text(rng)
    for name in ("legal_reference", "decision_reason", "consent_id", "grant_id"):
        p[name] = rng.choice([None, text(rng), "MISSING"])
        if p[name] == "MISSING":
            del p[name]
    if rng.random() < 0.5:
        body["producer"] = text(rng)
    p["fields"] = [text(rng) for _ in range(rng.randint(0, 4))]
    for name in ("organisation_country", "subject_country"):
        p[name] = rare(rng, rng.choice([None, "PH", "DE"]), "ph", "PHL", "P", "ÉA", "PH\n")
    p["consent_version"] = rare(rng, rng.choice([None, 0, 3, 2**31 - 1]), 2**31, -1, "3", 1.0)
    p["legal_basis"] = rare(rng, rng.choice(["consent", "contract", "public_task"]), "because")
    p["decision"] = rare(rng, rng.choice(["allow", "deny"]), "maybe")
    if rng.random() < 0.05:
        p["actor"] += "\x00"
    if rng.random() < 0.6:
        p["accessed_at"] = moment(rng)
    if rng.random() < 0.3:
        body["occurred_at"] = moment(rng)
    if rng.random() < 0.1:
        body["unknown"] = {"nested": [1, 2.5, None]}
    if rng.random() < 0.05:
        body["schema_version"] = rng.choice([2, 1.0, "1"])
    return json.dumps(body, ensure_ascii=rng.random() < 0.5).encode()


def python_reading(value: bytes, salt: bytes) -> ingestion.Prepared | None:
    try:
        event = records.decode(value)
    except records.InvalidRecord:
        return None
    return ingestion.prepare_one(event, NOW, timestamp(NOW), salt)


def test_what_the_native_path_takes_it_writes_exactly_as_python_does() -> None:
    rng = random.Random(20261123)
    values = [mutated(rng) for _ in range(4000)]
    salts = bytes(rng.getrandbits(8) for _ in range(16 * len(values)))
    left, ids, leaves, rows, personal = audit_native.prepare(values, MICROS, salts)
    taken = [i for i in range(len(values)) if i not in set(left)]
    assert len(taken) == len(ids) == len(leaves) == len(rows) == len(personal)
    for k, i in enumerate(taken):
        reference = python_reading(values[i], salts[16 * i : 16 * i + 16])
        assert reference is not None, f"native took what Python refuses: {values[i]!r}"
        assert reference.event_ids == [ids[k]]
        assert reference.leaves == [leaves[k]], values[i]
        assert reference.rows == [rows[k]], values[i]
        assert reference.personal == [personal[k]]
    # The fast path is the common path: most records Python takes, it takes too.
    python_takes = sum(
        python_reading(v, salts[16 * i : 16 * i + 16]) is not None for i, v in enumerate(values)
    )
    assert len(taken) > 0.5 * python_takes > 100


@pytest.mark.parametrize(
    "change",
    [
        lambda b: None,
        lambda b: b["payload"].update(actor='a "quoted"\\ actor\n\x01 é 😀'),
        lambda b: b["payload"].update(accessed_at="2026-11-23T09:30:00.5+05:30"),
        lambda b: b["payload"].update(accessed_at="2026-11-23T09:30:00"),
        lambda b: b["payload"].update(fields=[], consent_version=None, subject_country=None),
        lambda b: b["payload"].update(fields=["z", "é", "a", "a"]),
    ],
    ids=["plain", "escapes", "offset", "no-zone", "empty-and-nulls", "unsorted-fields"],
)
def test_ordinary_records_take_the_native_path(change: Any) -> None:
    body = valid()
    change(body)
    value = json.dumps(body).encode()
    left, ids, *_ = audit_native.prepare([value], MICROS, bytes(16))
    assert left == [] and ids == [body["event_id"]]


def test_a_mixed_batch_reads_as_python_alone_reads_it() -> None:
    plain, upper, refused = valid(), valid(), valid()
    upper["event_id"] = upper["event_id"].upper()  # the contract takes it; native leaves it
    refused["payload"]["legal_basis"] = "because"
    values = [json.dumps(b).encode() for b in (plain, upper, refused, plain, upper)]
    both = ingestion.read(values), ingestion.read(values, native=False)
    for read in both:
        assert read.ready.event_ids == [plain["event_id"], upper["event_id"].lower()]
        assert [index for index, _ in read.refused] == [2]
    assert both[0].refused == both[1].refused


def test_bad_arguments_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="salts"):
        audit_native.prepare([b"{}"], MICROS, b"short")


@pytest.mark.parametrize("size", [0, 1, 7, 8, 1000, 2**20 - 3])
def test_the_native_tree_grows_as_the_python_frontier_does(size: int) -> None:
    rng = random.Random(size)
    frontier = merkle.Frontier(
        size, {lv: rng.randbytes(32) for lv, _ in merkle.Frontier.keys(size)}
    )
    leaves = [rng.randbytes(32) for _ in range(rng.randint(1, 3000))]
    grown, nodes = ingestion.grow(frontier, leaves)
    python = merkle.Frontier(size, dict(frontier.roots))
    lowest = repository.LOWEST_STORED_LEVEL
    assert nodes == pgcopy.node_data(n for n in python.append(leaves) if n[0] >= lowest)
    assert (grown.size, grown.roots) == (python.size, python.roots)
    assert frontier.size == size  # left as it was


def test_the_native_tree_refuses_a_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="leaves"):
        audit_native.grow(0, {}, [b"short"], 0)


@pytest.mark.parametrize("name", ["event_id", "occurred_at", "producer", "subject_id"])
def test_the_native_path_leaves_a_record_without_an_envelope_field_to_python(name: str) -> None:
    body = valid()
    del body[name]
    left, ids, *_ = audit_native.prepare([json.dumps(body).encode()], MICROS, bytes(16))
    assert left == [0] and ids == []
