"""The subjects list follows the users' events whatever order their topics deliver them in."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

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
        await evidence.on_user_updated(sessions, moved("u-1", "TH", later), events.USER_UPDATED)
        await evidence.on_user_registered(
            sessions, registered("u-1", "PH", AT), events.USER_REGISTERED
        )
        # An erasure read before the registration: the person stays erased.
        erased = UserErased.create(
            producer="registry",
            subject_id="u-2",
            payload=UserErasedPayload(user_id="u-2", erased_at=later, requested_by="subject"),
        )
        await evidence.on_user_erased(sessions, erased, events.USER_ERASED)
        await evidence.on_user_registered(
            sessions, registered("u-2", "PH", AT), events.USER_REGISTERED
        )
        await evidence.on_user_updated(sessions, moved("u-2", "ID", later), events.USER_UPDATED)
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT user_id, country, erased_at FROM subjects"))
            subjects = {u: (c, e is not None) for u, c, e in rows}
    finally:
        await engine.dispose()

    assert subjects == {"u-1": ("TH", False), "u-2": (None, True)}
