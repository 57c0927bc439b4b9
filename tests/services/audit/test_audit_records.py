"""The log's fast reading of ``data.accessed`` keeps to the contract, and its canonical
encoding is the one the README tells verifiers to use."""

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from pydantic import ValidationError

from services.audit import records
from services.audit.domain import canonical, timestamp
from shared.events import DataAccessed, DataAccessedPayload, Decision, LegalBasis

T0 = datetime(2026, 11, 23, 9, 30, 0, 123456, tzinfo=UTC)


def valid() -> dict[str, Any]:
    event = DataAccessed.create(
        producer="registry",
        subject_id="u-1",
        payload=DataAccessedPayload(
            organisation_id="ph-philexport",
            organisation_country="PH",
            actor="analyst",
            subject_id="u-1",
            subject_country="PH",
            fields=["email_address", "company_name"],
            purpose="member_organisation_sharing",
            legal_basis=LegalBasis.CONSENT,
            channel="registry_api",
            accessed_at=T0,
            decision=Decision.ALLOW,
            consent_id="c-1",
            consent_version=3,
            grant_id="g-1",
        ),
    )
    body: dict[str, Any] = json.loads(event.to_bytes())
    return body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def reason(body: dict[str, Any] | bytes) -> str:
    with pytest.raises(records.InvalidRecord) as refused:
        records.decode(body if isinstance(body, bytes) else encode(body))
    return str(refused.value)


def test_the_structs_have_the_contracts_fields() -> None:
    for struct, model in (
        (records.Access, DataAccessed),
        (records.AccessPayload, DataAccessedPayload),
    ):
        info = msgspec.inspect.type_info(struct)
        assert isinstance(info, msgspec.inspect.StructType)
        mine = {f.name: f.required for f in info.fields}
        theirs = {name: f.is_required() for name, f in model.model_fields.items()}
        # The envelope's event_id and occurred_at have defaults in the model, for
        # producers; on the wire they are always there.
        for name in ("event_id", "occurred_at"):
            if name in theirs:
                theirs[name] = True
        assert mine == theirs


def test_a_valid_record_reads_as_the_contract_reads_it() -> None:
    body = valid()
    fast = records.decode(encode(body))
    slow = DataAccessed.model_validate(body)
    assert fast.event_id == str(slow.event_id)
    assert fast.occurred_at == slow.occurred_at
    for name in DataAccessedPayload.model_fields:
        assert getattr(fast.payload, name) == getattr(slow.payload, name), name


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (lambda b: b["payload"].update(consent_version="3"), lambda a: a.payload.consent_version),
        (lambda b: b.update(event_id=b["event_id"].upper()), lambda a: a.event_id.islower()),
        (lambda b: b.update(schema_version=1.0), lambda a: a.schema_version == 1),
    ],
    ids=["version-as-text", "upper-case-uuid", "integral-float"],
)
def test_what_the_contract_reads_leniently_is_taken_too(change: Any, check: Any) -> None:
    body = valid()
    change(body)
    DataAccessed.model_validate_json(encode(body))  # the contract accepts it...
    assert check(records.decode(encode(body)))  # ...and so does the log


def test_an_event_id_with_a_trailing_newline_is_never_taken_as_it_is() -> None:
    body = valid()
    body["event_id"] += "\n"
    try:
        access = records.decode(encode(body))
    except records.InvalidRecord as refused:
        assert "event_id:" in str(refused)
    else:  # the contract's lax reading may take it, but writes it as a plain UUID
        assert access.event_id == body["event_id"].strip()


def test_a_time_without_a_zone_is_taken_as_utc() -> None:
    body = valid()
    body["payload"]["accessed_at"] = "2026-11-23T09:30:00"
    access = records.decode(encode(body))
    assert records.utc(access.payload.accessed_at) == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["payload"].pop("actor"), "payload.actor"),
        (lambda b: b.update(event_type="user.registered"), "event_type"),
        (lambda b: b.update(schema_version=DataAccessed.VERSION + 1), "schema_version"),
        (lambda b: b["payload"].update(legal_basis="because"), "payload.legal_basis"),
        (lambda b: b["payload"].update(accessed_at="yesterday"), "payload.accessed_at"),
        (lambda b: b["payload"].update(fields="email_address"), "payload.fields"),
        (lambda b: b.update(event_id="not-a-uuid"), "event_id"),
        # accepted by the contract, but no column of the log could hold them
        (lambda b: b["payload"].update(organisation_country="PHL"), "payload.organisation_country"),
        (lambda b: b["payload"].update(subject_country="ph"), "payload.subject_country"),
        (lambda b: b["payload"].update(subject_country="PH\n"), "payload.subject_country"),
        (lambda b: b["payload"].update(consent_version=2**31), "payload.consent_version"),
        (lambda b: b["payload"].update(actor="ana\x00lyst"), "payload.actor"),
        (lambda b: b["payload"].update(fields=["a", "b\x00"]), "payload.fields[1]"),
        (lambda b: b.update(producer="\x00"), "producer"),
        (
            lambda b: b["payload"].update(accessed_at="0001-01-01T00:00:00+01:00"),
            "payload.accessed_at",
        ),
    ],
)
def test_a_bad_record_is_refused_naming_the_field(change: Any, field: str) -> None:
    body = valid()
    change(body)
    assert f"{field}:" in reason(body)


def test_text_that_is_not_json_is_refused() -> None:
    assert "not valid JSON" in reason(b"\xff\xfe garbage")
    assert "not valid JSON" in reason(b'{"event_id": "a\\ud800"}')  # a lone surrogate


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    body = valid()
    body["payload"]["actor"] = "C:\\u0000"
    assert records.decode(encode(body)).payload.actor == "C:\\u0000"


def test_the_fast_reading_is_never_looser_than_the_contract() -> None:
    """Random damage to a valid record: whatever the log takes, the contract takes too."""
    rng = random.Random(20261123)
    values: list[Any] = [None, 0, -1, 2**40, 1.5, "", "x", "PH", [], ["a"], {}, True]
    for _ in range(2000):
        body = valid()
        target = body if rng.random() < 0.3 else body["payload"]
        key = rng.choice(sorted(target))
        if rng.random() < 0.2:
            del target[key]
        else:
            target[key] = rng.choice(values)
        raw = encode(body)
        try:
            records.decode(raw)
        except records.InvalidRecord:
            continue
        try:
            DataAccessed.model_validate_json(raw)
        except ValidationError as exc:  # pragma: no cover - the failure being tested
            pytest.fail(f"the log took what the contract refuses: {key}={target.get(key)!r}: {exc}")


def test_canonical_json_is_pythons_sorted_compact_json() -> None:
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0x00, 0x80)] + ["é", "\u2028", "\U0001f600", "中"]
    for _ in range(300):
        value = {
            "".join(rng.choices(alphabet, k=rng.randint(0, 6))): rng.choice(
                [
                    None,
                    rng.randint(-(2**40), 2**40),
                    "".join(rng.choices(alphabet, k=rng.randint(0, 20))),
                    ["".join(rng.choices(alphabet, k=3)) for _ in range(rng.randint(0, 3))],
                ]
            )
            for _ in range(rng.randint(0, 8))
        }
        expected = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        assert canonical(value) == expected


@pytest.mark.parametrize(
    "moment",
    [
        T0,
        T0.replace(microsecond=0),
        T0.astimezone(timezone(timedelta(hours=8))),
        T0.astimezone(timezone(timedelta(hours=-5, minutes=-30))),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-1))),
    ],
)
def test_timestamps_are_utc_with_six_digit_fractions(moment: datetime) -> None:
    assert timestamp(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_batches_merged_for_one_write_keep_each_event_once_in_order() -> None:
    from services.audit import ingestion

    bodies = [valid() for _ in range(3)]
    bodies[1]["event_id"] = "00000000-0000-4000-8000-000000000001"
    bodies[2]["event_id"] = "00000000-0000-4000-8000-000000000002"
    one = ingestion.read([encode(bodies[0]), encode(bodies[1])]).ready
    two = ingestion.read([encode(bodies[1]), encode(bodies[2])]).ready  # bodies[1] again
    merged = ingestion.merge([one, two])
    assert merged.event_ids == [b["event_id"] for b in bodies]
    assert merged.leaves == [*one.leaves, two.leaves[1]]
    assert merged.rows == [*one.rows, two.rows[1]]
    assert merged.personal == [*one.personal, two.personal[1]]


@pytest.mark.parametrize("name", ["event_id", "occurred_at"])
def test_a_record_without_what_the_contract_fills_in_for_producers_is_refused(
    name: str,
) -> None:
    """Given a default, a record without its event id would get a new one at each
    delivery and be stored once per delivery."""
    body = valid()
    del body[name]
    assert f"{name}: Field required" in reason(body)


def test_both_readings_refuse_a_record_without_its_event_id() -> None:
    from services.audit import ingestion

    body = valid()
    del body["event_id"]
    for native in (True, False):
        read = ingestion.read([encode(valid()), encode(body)], native=native)
        assert len(read.ready.event_ids) == 1
        assert read.refused == [(1, "invalid event: event_id: Field required")]
