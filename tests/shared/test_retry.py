"""The retry rules of the consumers and the relay (tenacity), without a broker."""

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError, ProducerFenced
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import OperationalError
from tenacity import AsyncRetrying, RetryCallState

from shared import kafka, relay


def failed(exc: BaseException, attempt: int, seconds: float = 0.0) -> RetryCallState:
    """The retry state after ``attempt`` attempts, the last raising ``exc``."""
    state = RetryCallState(retry_object=AsyncRetrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.start_time -= seconds
    state.set_exception((type(exc), exc, None))
    return state


def invalid() -> ValidationError:
    class Strict(BaseModel):
        n: int

    try:
        Strict.model_validate({})
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


UNREACHABLE = [
    ConnectionRefusedError(111, "refused"),
    KafkaConnectionError("broker away"),
    OperationalError("SELECT 1", {}, Exception("server closed the connection")),
]


@pytest.mark.parametrize("exc", UNREACHABLE, ids=["os", "kafka", "database"])
def test_consumer_backs_off_transient_failures_exponentially_with_jitter_to_ten_seconds(
    exc: BaseException,
) -> None:
    for attempt in range(1, 15):
        base = min(0.4 * 2 ** (attempt - 1), 10.0)
        waits = [kafka._wait(failed(exc, attempt)) for _ in range(20)]
        assert all(base <= w <= base + 0.4 for w in waits), (attempt, waits)
        assert len(set(waits)) > 1, "no jitter"


def test_consumer_waits_a_little_longer_after_each_handler_failure() -> None:
    waits = [kafka._wait(failed(RuntimeError("bug"), n)) for n in range(1, 5)]
    assert waits == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_a_failing_handler_is_given_up_on_at_the_fifth_attempt() -> None:
    stops = [kafka._stop(failed(RuntimeError("bug"), n)) for n in range(1, 6)]
    assert stops == [False, False, False, False, True]


def test_transient_failures_are_retried_in_place_until_the_budget_then_handed_back() -> None:
    exc = KafkaConnectionError("broker away")
    assert not kafka._stop(failed(exc, 40, seconds=kafka.TRANSIENT_RETRY_SECONDS - 1))
    assert kafka._stop(failed(exc, 40, seconds=kafka.TRANSIENT_RETRY_SECONDS))


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (RuntimeError("bug"), True),
        (ConnectionRefusedError(111, "refused"), True),
        (invalid(), False),
        (kafka.MalformedEvent("unknown consent"), False),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), False),
        (asyncio.CancelledError(), False),
    ],
    ids=["bug", "unreachable", "invalid", "malformed", "undecodable", "cancelled"],
)
def test_what_the_consumer_retries(exc: BaseException, retried: bool) -> None:
    assert kafka._retryable(exc) is retried


def test_relay_backs_off_from_a_fifth_of_a_second_to_ten_with_jitter() -> None:
    exc = KafkaConnectionError("broker away")
    for attempt in range(1, 15):
        base = min(0.2 * 2 ** (attempt - 1), 10.0)
        wait = relay._backoff(failed(exc, attempt))
        assert base <= wait <= base + 0.2, (attempt, wait)


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (KafkaConnectionError("broker away"), True),
        (ConnectionResetError(104, "reset"), True),
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (ProducerFenced(), False),
        (RuntimeError("bug"), False),
        (asyncio.CancelledError(), False),
    ],
    ids=["kafka", "os", "database", "fenced", "bug", "cancelled"],
)
def test_what_the_relay_retries(exc: BaseException, retried: bool) -> None:
    assert relay._transient(exc) is retried
