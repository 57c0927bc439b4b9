"""shared.clock: the system's clock and the one kept in a service's schema."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from services.breach.config import BreachSettings
from shared.clock import CLOCK_DDL, StoredClock, SystemClock
from shared.db import create_engine
from tests.support import DATABASE_URL


async def test_the_system_clock_is_aware_and_in_utc() -> None:
    now = await SystemClock().now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=1)


@pytest.mark.integration
async def test_the_stored_clock_is_read_at_every_tick_by_every_engine(
    schema_factory: Callable[[str], str],
) -> None:
    schema = schema_factory("clock")
    first, second = (create_engine(DATABASE_URL, schema, pool_size=1) for _ in range(2))
    try:
        async with first.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            for statement in CLOCK_DDL:
                await conn.execute(text(statement))
        writer, reader = StoredClock(first), StoredClock(second)  # a restart sees the same
        assert abs(await reader.now() - datetime.now(UTC)) < timedelta(seconds=1)

        at = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
        await writer.freeze(at)
        assert await reader.now() == at
        await writer.advance(timedelta(hours=25))
        assert await reader.now() == at + timedelta(hours=25)

        await writer.run(timedelta(days=2))
        ahead = await reader.now() - datetime.now(UTC)
        assert timedelta(days=2) - timedelta(seconds=1) < ahead <= timedelta(days=2)
        await writer.advance(timedelta(hours=1))
        ahead = await reader.now() - datetime.now(UTC)
        assert timedelta(hours=49) - timedelta(seconds=1) < ahead <= timedelta(hours=49)
    finally:
        await first.dispose()
        await second.dispose()


def test_the_stored_clock_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="stored clock"):
        BreachSettings(environment="production", clock="stored", jwt_secret="x" * 40, db_schema="b")
    BreachSettings(environment="production", clock="system", jwt_secret="x" * 40)


@pytest.mark.parametrize("hours", [[0], [72], [24, 80]])
def test_warning_points_fall_inside_the_72_hours(hours: list[int]) -> None:
    with pytest.raises(ValidationError, match="warning_hours"):
        BreachSettings(warning_hours=hours)


def test_warning_points_come_sorted_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREACH_WARNING_HOURS", "[66, 24, 48, 24]")
    assert BreachSettings().warning_hours == [24, 48, 66]
