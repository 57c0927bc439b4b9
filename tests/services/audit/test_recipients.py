"""Recipient notices against the real broker and database (issue 15's "Done when"): the
right organisations are asked, about the right categories, once; late disclosures are
caught by the re-check; rectification and restriction have notices of their own."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import events
from shared.clock import StoredClock
from shared.db import create_engine
from tests.services.audit.test_recipients_stack import (
    RECHECK,
    RESPOND,
    SETTLE,
    T0,
    Audit,
    disclosure,
    erased,
    names,
    prefix_of,
    restriction,
    running,
    updated,
)
from tests.support import DATABASE_URL

pytestmark = pytest.mark.integration


@pytest.fixture
def schema(schema_factory: Callable[[str], str]) -> str:
    return schema_factory("audit_recipients")


@pytest.fixture
async def engine(schema: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
async def audit(schema: str, engine: AsyncEngine) -> AsyncIterator[Audit]:
    async with running(schema) as http:
        clock = StoredClock(engine)
        await clock.freeze(T0)
        yield Audit(http=http, engine=engine, clock=clock, prefix=prefix_of(schema))


def ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


async def test_an_erasure_asks_exactly_the_organisations_that_received_the_data(
    audit: Audit,
) -> None:
    (person,) = names("erased", 1)
    a, b, c = names("org", 3)
    read = [
        disclosure(person, a, ["email_address", "full_name"], at=ago(30)),
        disclosure(person, a, ["phone_number"], at=ago(20)),
        disclosure(person, b, ["full_name"], at=ago(10), grant_id="g-standing"),
        disclosure(person, c, ["email_address"], at=ago(5), allowed=False),
    ]
    await audit.publish(*read)
    await audit.stored(*read)
    erasure = erased(person)
    await audit.publish(erasure)
    await audit.recorded(erasure)

    await audit.clock.advance(SETTLE - timedelta(seconds=1))
    await audit.http.rounds("recipients", 3)  # not settled yet: nobody asked
    assert await audit.requests(person) == {}

    await audit.clock.advance(timedelta(seconds=1))
    await audit.swept(erasure)
    asked = await audit.requests(person)
    assert sorted(asked) == [a, b]  # the refused organisation c is not asked
    assert asked[a]["data_categories"] == ["email_address", "full_name", "phone_number"]
    assert asked[b]["data_categories"] == ["full_name"]  # standing access, received something
    assert datetime.fromisoformat(asked[a]["last_received_at"]) == read[1].payload.accessed_at
    for payload in asked.values():
        assert payload["action"] == "erase"
        assert payload["notice_id"] == f"recipient:{payload['request_id']}"
        assert payload["kind"] == events.RECIPIENT_NOTICE_KIND
        assert datetime.fromisoformat(payload["requested_at"]) == erasure.occurred_at
        assert datetime.fromisoformat(payload["respond_by"]) == T0 + SETTLE + RESPOND


async def test_a_redelivered_or_repeated_erasure_asks_no_one_twice(audit: Audit) -> None:
    (person,) = names("twice", 1)
    (a,) = names("org", 1)
    read = disclosure(person, a, ["email_address"], at=ago(10))
    await audit.publish(read)
    await audit.stored(read)
    first = erased(person)
    await audit.publish(first)
    await audit.recorded(first)
    await audit.clock.advance(SETTLE)
    await audit.swept(first)
    assert sorted(await audit.requests(person)) == [a]

    again = erased(person)  # the registry says it once more, under a new event id
    await audit.publish(first, again)  # and the first is delivered again
    await audit.recorded(again)
    await audit.clock.advance(RECHECK)
    await audit.swept(first, again, pass_="final")
    assert sorted(await audit.requests(person)) == [a]
    triggers = "SELECT count(*) FROM recipient_triggers WHERE user_id = :u"
    assert await audit.count(triggers, u=person) == 2


async def test_disclosures_that_reach_the_log_after_the_erasure_are_caught_by_the_recheck(
    audit: Audit,
) -> None:
    (person,) = names("race", 1)
    a, b, after = names("org", 3)
    erasure = erased(person)
    early = disclosure(person, a, ["email_address"], at=ago(10))
    await audit.publish(erasure, early)  # the erasure is heard before the disclosure before it
    await audit.recorded(erasure)
    await audit.stored(early)
    await audit.clock.advance(SETTLE)
    await audit.swept(erasure)
    assert sorted(await audit.requests(person)) == [a]

    late = disclosure(person, b, ["full_name"], at=ago(9))  # made before, heard much later
    made_after = disclosure(person, after, ["full_name"], at=datetime.now(UTC) + timedelta(1))
    await audit.publish(late, made_after)
    await audit.stored(late, made_after)
    await audit.http.rounds("recipients", 3)
    assert sorted(await audit.requests(person)) == [a]  # not until the re-check

    await audit.clock.advance(RECHECK - SETTLE)
    await audit.swept(erasure, pass_="final")
    asked = await audit.requests(person)
    assert sorted(asked) == [a, b]  # a disclosure made after the erasure asks nothing
    assert datetime.fromisoformat(asked[b]["respond_by"]) == T0 + RECHECK + RESPOND


async def test_what_came_due_while_the_service_was_down_is_done_on_its_return(
    schema: str, engine: AsyncEngine
) -> None:
    clock = StoredClock(engine)
    (person,) = names("down", 1)
    (a,) = names("org", 1)
    read = disclosure(person, a, ["email_address"], at=ago(10))
    erasure = erased(person)
    async with running(schema) as http:
        await clock.freeze(T0)
        audit = Audit(http=http, engine=engine, clock=clock, prefix=prefix_of(schema))
        await audit.publish(read)
        await audit.stored(read)
        await audit.publish(erasure)
        await audit.recorded(erasure)
    # down for a week: past the settle time, the re-check and what a tick looks back on
    await clock.advance(timedelta(days=7))
    async with running(schema) as http:
        audit = Audit(http=http, engine=engine, clock=clock, prefix=prefix_of(schema))
        await audit.swept(erasure, pass_="final")
        asked = await audit.requests(person)
    assert sorted(asked) == [a]
    assert datetime.fromisoformat(asked[a]["respond_by"]) == T0 + timedelta(days=7) + RESPOND


async def test_a_rectification_asks_those_that_received_a_corrected_category_each_time(
    audit: Audit,
) -> None:
    (person,) = names("rectified", 1)
    a, b = names("org", 2)
    read = [
        disclosure(person, a, ["email_address", "full_name"], at=ago(30)),
        disclosure(person, b, ["phone_number"], at=ago(20)),
    ]
    await audit.publish(*read)
    await audit.stored(*read)
    first = updated(person, ["email_address", "country"])
    await audit.publish(first)
    await audit.recorded(first)
    await audit.clock.advance(SETTLE)
    await audit.swept(first)
    asked = await audit.requests(person)
    assert sorted(asked) == [a]  # b received nothing that was corrected
    assert asked[a]["action"] == "rectify"
    assert asked[a]["data_categories"] == ["email_address"]  # names, never the new values
    assert "email" not in asked[a] and "ana" not in str(asked[a]).lower()

    second = updated(person, ["email_address", "phone_number"])
    await audit.publish(second)
    await audit.recorded(second)
    await audit.clock.advance(SETTLE)
    await audit.swept(second)
    staged = await audit.staged(events.RECIPIENT_NOTIFICATION_REQUESTED, person)
    assert sorted(
        (e["payload"]["organisation"], *e["payload"]["data_categories"]) for e in staged
    ) == [
        (a, "email_address"),
        (a, "email_address"),
        (b, "phone_number"),
    ]
    assert len({e["payload"]["request_id"] for e in staged}) == 3


async def test_turning_a_restriction_on_asks_the_recipients_and_lifting_it_asks_no_one(
    audit: Audit,
) -> None:
    (person,) = names("restricted", 1)
    a, b = names("org", 2)
    read = [
        disclosure(person, a, ["email_address"], at=ago(30)),
        disclosure(person, b, ["full_name", "phone_number"], at=ago(20)),
    ]
    await audit.publish(*read)
    await audit.stored(*read)
    on = restriction(person, restricted=True, objected=False)
    lifted = restriction(person, restricted=False, objected=False)
    objected = restriction(person, restricted=False, objected=True)
    still = restriction(person, restricted=False, objected=True)  # nothing new turned on
    await audit.publish(on, lifted, objected, still)
    await audit.recorded(on, lifted, objected, still)
    await audit.clock.advance(RECHECK)
    await audit.swept(on, objected, pass_="final")
    await audit.http.rounds("recipients", 3)
    staged = await audit.staged(events.RECIPIENT_NOTIFICATION_REQUESTED, person)
    assert sorted((e["payload"]["organisation"], e["payload"]["action"]) for e in staged) == [
        (a, "restrict"),
        (a, "restrict"),
        (b, "restrict"),
        (b, "restrict"),
    ]  # one pair for turning the restriction on, one for the objection; none for lifting
    assert {tuple(e["payload"]["data_categories"]) for e in staged} == {
        ("email_address",),
        ("full_name", "phone_number"),
    }
    nothing = "SELECT count(*) FROM recipient_triggers WHERE user_id = :u AND action = 'none'"
    assert await audit.count(nothing, u=person) == 2
