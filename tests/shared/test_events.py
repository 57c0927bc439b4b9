"""Event contracts: the envelope, topic names, versions."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from shared import events
from shared.events import (
    ConsentChangedPayload,
    Envelope,
    UserRegistered,
    UserRegisteredPayload,
)


def registered(**overrides: Any) -> UserRegistered:
    return UserRegistered.create(
        producer="registry",
        subject_id="u-1",
        payload=UserRegisteredPayload(
            user_id="u-1", full_name="Ana Cruz", email="ana@example.org", country="PH"
        ),
        **overrides,
    )


def test_topic_is_event_type_and_version() -> None:
    assert events.USER_REGISTERED == "user.registered.v1"
    assert events.DATA_ACCESSED == "data.accessed.v1"
    assert events.dlq_topic(events.DATA_ACCESSED) == "data.accessed.v1.dlq"


def test_every_catalogue_event_has_its_own_topic() -> None:
    topics = [event.topic() for event in events.CATALOGUE]
    assert len(topics) == len(set(topics)) == len(events.EVENT_BY_TOPIC)
    assert all(event.EVENT_TYPE for event in events.CATALOGUE)


def test_event_round_trips_through_bytes() -> None:
    event = registered()
    again = UserRegistered.model_validate_json(event.to_bytes())
    assert again == event
    assert again.key() == b"u-1"


def test_occurred_at_is_stored_in_utc() -> None:
    plus_seven = timezone(timedelta(hours=7))
    event = registered(occurred_at=datetime(2026, 1, 1, 12, 0, tzinfo=plus_seven))
    assert event.occurred_at == datetime(2026, 1, 1, 5, 0, tzinfo=UTC)


def test_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValidationError, match="occurred_at"):
        registered(occurred_at=datetime(2026, 1, 1, 12, 0))


def test_event_of_another_type_is_refused() -> None:
    body = json.loads(registered().to_bytes())
    body["event_type"] = "user.erased"
    with pytest.raises(ValidationError, match="event_type"):
        UserRegistered.model_validate(body)


def test_unknown_version_is_refused() -> None:
    body = json.loads(registered().to_bytes())
    body["schema_version"] = 2
    with pytest.raises(ValidationError, match="schema_version"):
        UserRegistered.model_validate(body)


def test_additive_fields_are_ignored_by_older_readers() -> None:
    body = json.loads(registered().to_bytes())
    body["payload"]["preferred_channel"] = "sms"
    body["tenant"] = "learn"
    assert UserRegistered.model_validate(body).payload.email == "ana@example.org"


def test_events_are_frozen() -> None:
    event = registered()
    with pytest.raises(ValidationError):
        event.subject_id = "someone-else"  # type: ignore[misc]


def test_envelope_base_reads_any_event() -> None:
    envelope = Envelope.model_validate_json(registered().to_bytes())
    assert envelope.event_type == "user.registered"


@pytest.mark.parametrize("field", ["event_id", "occurred_at"])
def test_an_event_without_its_id_or_time_is_refused_naming_the_field(field: str) -> None:
    body = json.loads(registered().to_bytes())
    del body[field]
    with pytest.raises(ValidationError) as refused:
        UserRegistered.model_validate(body)
    assert [(e["loc"], e["msg"]) for e in refused.value.errors()] == [((field,), "Field required")]


def test_create_fills_a_fresh_id_and_the_time_for_our_producers() -> None:
    before = datetime.now(UTC)
    first, second = registered(), registered()
    assert first.event_id != second.event_id
    assert before <= first.occurred_at <= datetime.now(UTC)
    moment = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert registered(occurred_at=moment).occurred_at == moment


@pytest.mark.parametrize("field", ["organisation_id", "country", "data_categories", "valid_until"])
def test_a_consent_change_must_state_its_scope_and_end(field: str) -> None:
    payload = {
        "consent_id": "c-1",
        "version": 1,
        "user_id": "u-1",
        "purpose": "member_organisation_sharing",
        "organisation_id": None,
        "country": None,
        "data_categories": [],
        "notice_version": "2024-01-11",
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": None,
    }
    assert ConsentChangedPayload.model_validate(payload).organisation_id is None
    del payload[field]
    with pytest.raises(ValidationError, match=f"{field}\n  Field required"):
        ConsentChangedPayload.model_validate(payload)


def test_a_default_that_is_honest_optionality_stays() -> None:
    payload = UserRegisteredPayload(
        user_id="u-1", full_name="Ana Cruz", email="ana@example.org", country="PH"
    )
    assert payload.language == "en"
