"""Migration 0005 on breaches made at 0004: each gets one GDPR obligation to the regulator,
its state from the decision recorded, its people counted by country, its fired clock
points kept as the obligation's; nothing else changes."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from services.breach.main import MIGRATIONS
from shared.db import create_engine
from tests.support import DATABASE_URL

pytestmark = pytest.mark.integration

AWARE = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


def _upgrade(connection: Connection, schema: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["schema"] = schema
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


BREACH = """
INSERT INTO breaches (breach_id, reference, title, what_happened, kinds, detected_at, aware_at,
    data_categories, likely_consequences, measures_taken, what_you_can_do, contact_point,
    declared_by, declared_at, decision, decision_reason, authority, reported_at,
    delay_reasons, decided_at, decided_by)
VALUES (:b, :ref, 'T', 'W', '{confidentiality}', :aware, :aware, '{email_address}', 'C', 'M',
    'Y', 'dpo@example.org', 'sec', :aware, :decision, :reason, :authority, :reported, :delay,
    :decided, :by)
"""


async def test_existing_breaches_get_one_gdpr_obligation_each_and_lose_nothing(
    schema_factory: Callable[[str], str],
) -> None:
    schema = schema_factory("breach_mig")
    engine = create_engine(DATABASE_URL, schema, pool_size=1)
    late, pending, declined = uuid4(), uuid4(), uuid4()
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await conn.run_sync(_upgrade, schema, "0004")
            no_decision = dict.fromkeys(
                ("decision", "reason", "authority", "reported", "delay", "decided", "by")
            )
            for breach_id, ref, decision in (
                (
                    late,
                    "BR-1",
                    {
                        "decision": "report",
                        "authority": "NPC",
                        "reported": AWARE + timedelta(hours=80),
                        "delay": "Logs took days.",
                        "decided": AWARE + timedelta(hours=81),
                        "by": "sec",
                    },
                ),
                (pending, "BR-2", {}),
                (
                    declined,
                    "BR-3",
                    {
                        "decision": "not_report",
                        "reason": "Encrypted; no risk.",
                        "decided": AWARE + timedelta(hours=1),
                        "by": "sec",
                    },
                ),
            ):
                await conn.execute(
                    text(BREACH),
                    {**no_decision, **decision, "b": breach_id, "ref": ref, "aware": AWARE},
                )
            await conn.execute(
                text(
                    "INSERT INTO subjects (user_id, country, country_at, registered_at) VALUES "
                    "('u-ph', 'PH', :at, :at), ('u-th', 'TH', :at, :at)"
                ),
                {"at": AWARE},
            )
            scope = (
                await conn.execute(
                    text(
                        "INSERT INTO scopes (breach_id, kind, spec, done, added_by, created_at) "
                        "VALUES (:b, 'users', '{}', true, 'sec', :at) RETURNING scope_id"
                    ),
                    {"b": pending, "at": AWARE},
                )
            ).scalar_one()
            await conn.execute(
                text(
                    "INSERT INTO affected (breach_id, user_id, scope_id, data_categories, "
                    "requested_at, state) VALUES (:b, 'u-ph', :s, '{}', :at, 'requested'), "
                    "(:b, 'u-th', :s, '{}', :at, 'delivered'), (:b, 'u-gone', :s, '{}', :at, "
                    "'failed')"
                ),
                {"b": pending, "s": scope, "at": AWARE},
            )
            await conn.execute(
                text(
                    "INSERT INTO clock_marks (breach_id, mark, point_hours, fired_at, pending) "
                    "VALUES (:b, 'warning', 24, :at, 1)"
                ),
                {"b": pending, "at": AWARE + timedelta(hours=24)},
            )
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, schema, "head")
            rows = await conn.execute(
                text(
                    "SELECT breach_id, regime, recipient, requirement, state, people, anchor, "
                    "anchor_at, deadline_at, met_at, delay_reasons, evidence FROM obligations"
                )
            )
            obligations = {r.breach_id: r for r in rows}
            countries = {
                (c, n)
                for c, n in await conn.execute(
                    text("SELECT country, people FROM breach_countries WHERE breach_id = :b"),
                    {"b": pending},
                )
            }
            marks = list(
                await conn.execute(
                    text("SELECT regime, recipient, mark, point_at FROM obligation_marks")
                )
            )
            kept = (await conn.execute(text("SELECT count(*) FROM clock_marks"))).scalar_one()
            affected = {
                u: c for u, c in await conn.execute(text("SELECT user_id, country FROM affected"))
            }
    finally:
        await engine.dispose()

    assert set(obligations) == {late, pending, declined}
    assert all((o.regime, o.recipient) == ("eu", "regulator") for o in obligations.values())
    deadline = AWARE + timedelta(hours=72)
    assert all(
        (o.anchor, o.anchor_at, o.deadline_at) == ("awareness", AWARE, deadline)
        for o in obligations.values()
    )
    assert (obligations[late].state, obligations[late].met_at) == (
        "late",
        AWARE + timedelta(hours=80),
    )
    assert obligations[late].delay_reasons == "Logs took days."
    assert obligations[late].evidence["authority"] == "NPC"
    assert (obligations[pending].state, obligations[pending].people) == ("pending", 3)
    assert (obligations[declined].requirement, obligations[declined].state) == (
        "not_required",
        "not_required",
    )
    assert countries == {("PH", 1), ("TH", 1), ("", 1)}
    assert affected == {"u-ph": "PH", "u-th": "TH", "u-gone": None}
    assert marks == [("eu", "regulator", "warning", AWARE + timedelta(hours=24))]
    assert kept == 1
