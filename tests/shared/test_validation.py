"""The bounded edge types: what an outside time or position may be."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.validation import Instant

INSTANT = TypeAdapter(Instant)


def test_an_instant_is_read_in_utc() -> None:
    assert INSTANT.validate_python("2026-11-20T12:00:00+02:00") == datetime(
        2026, 11, 20, 10, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-11-20T10:00:00", "time zone offset"),
        ("0001-01-01T00:00:00+01:00", "outside the calendar"),
        ("9999-12-31T23:59:59.999999Z", "infinity"),
        ("9999-12-31T23:59:59.999999+00:00", "infinity"),
    ],
)
def test_an_instant_the_database_cannot_give_back_is_refused(value: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        INSTANT.validate_python(value)


def test_the_instant_before_the_last_is_kept() -> None:
    last_but_one = datetime.max.replace(tzinfo=UTC) - timedelta(microseconds=1)
    assert INSTANT.validate_python(last_but_one.isoformat()) == last_but_one
