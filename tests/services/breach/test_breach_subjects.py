"""The subjects list follows the users' events whatever order their topics deliver them in."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from services.breach import evidence
from services.breach.main import MIGRATIONS
from shared import events
from shared.db import create_engine, create_sessions, migrate
from shared.events import (
    UserErased,
    UserErasedPayload,
    UserRegistered,
    UserRegisteredPayload,
    UserUpdated,
    UserUpdatedPayload,
)
from tests.support import DATABASE_URL

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def registered(user_id: str, country: str, at: datetime) -> UserRegistered:
    return UserRegistered.create(
        producer="registry",
        subject_id=user_id,
        occurred_at=at,
        payload=UserRegisteredPayload(
            user_id=user_id, full_name="A Person", email="a@example.org", country=country
        ),
    )


def moved(user_id: str, country: str, at: datetime) -> UserUpdated:
    return UserUpdated.create(
        producer="registry",
        subject_id=user_id,
        occurred_at=at,
        payload=UserUpdatedPayload(user_id=user_id, changed_fields=["country"], country=country),
    )


async def test_the_country_said_last_wins_and_erasure_sticks(
    schema_factory: Callable[[str], str],
) -> None:
    schema = schema_factory("breach_subjects")
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    try:
        await migrate(engine, MIGRATIONS, schema)
        sessions = create_sessions(engine)
        later = AT + timedelta(days=1)
        # The move to Thailand is read before the registration it follows.
        await evidence.on_subjects(sessions, [(moved("u-1", "TH", later), events.USER_UPDATED)])
        await evidence.on_subjects(
            sessions, [(registered("u-1", "PH", AT), events.USER_REGISTERED)]
        )
        # An erasure read before the registration: the person stays erased.
        erased = UserErased.create(
            producer="registry",
            subject_id="u-2",
            payload=UserErasedPayload(user_id="u-2", erased_at=later, requested_by="subject"),
        )
        await evidence.on_user_erased(sessions, erased, events.USER_ERASED)
        await evidence.on_subjects(
            sessions, [(registered("u-2", "PH", AT), events.USER_REGISTERED)]
        )
        await evidence.on_subjects(sessions, [(moved("u-2", "ID", later), events.USER_UPDATED)])
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT user_id, country, erased_at FROM subjects"))
            subjects = {u: (c, e is not None) for u, c, e in rows}
    finally:
        await engine.dispose()

    assert subjects == {"u-1": ("TH", False), "u-2": (None, True)}


async def test_a_batch_of_registrations_and_moves_is_one_statement_and_ends_as_one_by_one(
    schema_factory: Callable[[str], str],
) -> None:
    schema = schema_factory("breach_subjects")
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    later = AT + timedelta(days=1)
    people = [f"u-{n:04d}" for n in range(1000)]
    registrations: list[tuple[UserRegistered | UserUpdated, str]] = [
        (registered(u, "PH", AT), events.USER_REGISTERED) for u in people
    ]
    try:
        await migrate(engine, MIGRATIONS, schema)
        sessions = create_sessions(engine)
        written: list[str] = []

        def seen(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            if "INTO subjects" in statement:
                written.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        # In one batch: u-0000 moves before (by topic order) their registration arrives,
        # u-0001 is registered twice (a redelivery), u-0002 moves twice, the later last.
        batch: list[tuple[UserRegistered | UserUpdated, str]] = [
            (moved("u-0000", "TH", later), events.USER_UPDATED),
            *registrations,
            registrations[1],
            (moved("u-0002", "SG", later + timedelta(hours=1)), events.USER_UPDATED),
            (moved("u-0002", "ID", later), events.USER_UPDATED),
        ]
        assert await evidence.on_subjects(sessions, batch) == len(people) + 3
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
        assert len(written) == 1
        assert await evidence.on_subjects(sessions, registrations[:10]) == 0  # redelivered
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT user_id, country FROM subjects"))
            subjects: dict[str, str | None] = {u: c for u, c in rows}
    finally:
        await engine.dispose()

    assert len(subjects) == len(people)
    assert subjects["u-0000"] == "TH" and subjects["u-0002"] == "SG"
    assert subjects["u-0001"] == subjects["u-0999"] == "PH"
