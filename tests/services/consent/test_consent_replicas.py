"""Two replicas of the consent service on one schema and one broker answer alike."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI

from services.consent import service
from services.consent.bootstrap import ConsentRuntime
from services.consent.config import ConsentSettings
from services.consent.main import build_app
from services.consent.replication import Follower
from services.consent.repository import ORIGIN_HEADER
from shared import events
from shared.db import create_engine, create_sessions
from shared.producers import create_producer
from tests.services.consent.test_consent_api import ADMIN, PH_ORG, SHARING, decide, grant
from tests.support import KAFKA, read_topic, unique, wait_until

pytestmark = pytest.mark.integration

PROPAGATION = 30.0
"""The tests' bound on propagation (the bench measures it: well under a second)."""


@dataclass
class Replica:
    http: httpx.AsyncClient
    runtime: ConsentRuntime


@asynccontextmanager
async def replica(schema: str, name: str) -> AsyncIterator[Replica]:
    settings = ConsentSettings(
        db_schema=schema, replica_id=name, log_json=True, topic_prefix=f"{schema}."
    )
    app: FastAPI = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        runtime = app.state.runtime
        assert isinstance(runtime, ConsentRuntime) and runtime.follower is not None
        await wait_until(runtime.follower.assigned.wait, 60, f"replica {name}'s partitions")
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as http:
            yield Replica(http, runtime)


@pytest.fixture
async def schema(schema_factory: Callable[[str], str]) -> str:
    return schema_factory("consent")


async def add_grant(http: httpx.AsyncClient, org: str = PH_ORG) -> dict[str, Any]:
    now = datetime.now(UTC)
    response = await http.post(
        "/grants",
        json={
            "organisation": org,
            "data_categories": ["email_address", "full_name"],
            "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_until": (now + timedelta(days=30)).isoformat(),
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def allows(http: httpx.AsyncClient, user: str, org: str = PH_ORG) -> bool:
    return bool((await decide(http, user, org))["allow"])


async def becomes(http: httpx.AsyncClient, user: str, expected: bool, what: str) -> None:
    async def holds() -> bool:
        return await allows(http, user) is expected

    await wait_until(holds, PROPAGATION, what)


async def revoke(http: httpx.AsyncClient, grant_id: str) -> httpx.Response:
    return await http.post(f"/grants/{grant_id}/revoke", headers=ADMIN)


def ours(schema: str) -> Callable[[ConsumerRecord[bytes, bytes]], bool]:
    def check(record: ConsumerRecord[bytes, bytes]) -> bool:
        return (ORIGIN_HEADER, schema.encode()) in list(record.headers)

    return check


async def test_a_change_on_one_replica_is_answered_by_the_other(schema: str) -> None:
    user = unique("u")
    async with replica(schema, "a") as a, replica(schema, "b") as b:
        await add_grant(a.http)
        receipt = await grant(a.http, user, SHARING, organisation=PH_ORG)
        assert await allows(a.http, user), "the replica that took the change answers with it"
        await becomes(b.http, user, True, "replica b to allow after the grant")

        withdrawn = await b.http.post(
            f"/consents/{receipt['consent_id']}/withdraw", json={}, headers=ADMIN
        )
        assert withdrawn.status_code == 200
        assert not await allows(b.http, user)
        await becomes(a.http, user, False, "replica a to deny after the withdrawal")


async def test_a_revoked_grant_stops_decisions_on_both_replicas(schema: str) -> None:
    user = unique("u")
    async with replica(schema, "a") as a, replica(schema, "b") as b:
        made = await add_grant(a.http)
        await grant(a.http, user, SHARING, organisation=PH_ORG)
        await becomes(b.http, user, True, "replica b to allow")

        revoked = await revoke(b.http, made["grant_id"])
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_at"] is not None
        denied = await decide(b.http, user, PH_ORG)
        assert not denied["allow"] and "no access grant" in denied["reason"]
        await becomes(a.http, user, False, "replica a to deny after the revocation")

        again = await revoke(a.http, made["grant_id"])
        assert again.status_code == 200 and again.json() == revoked.json()
        listed = await a.http.get("/grants", params={"organisation": PH_ORG}, headers=ADMIN)
        assert [g["revoked_at"] for g in listed.json()] == [revoked.json()["revoked_at"]]

    records = await read_topic(
        f"{schema}.{events.ACCESS_GRANT_REVOKED}",
        until=lambda rs: any(ours(schema)(r) for r in rs),
        settle=1.0,
    )
    assert len([r for r in records if ours(schema)(r)]) == 1, "revoking twice: one event"


async def test_redelivered_events_change_nothing(schema: str) -> None:
    user = unique("u")
    async with replica(schema, "a") as a, replica(schema, "b") as b:
        made = await add_grant(a.http)
        receipt = await grant(a.http, user, SHARING, organisation=PH_ORG)
        await a.http.post(f"/consents/{receipt['consent_id']}/withdraw", json={}, headers=ADMIN)
        await grant(a.http, user, SHARING, organisation=PH_ORG)
        await becomes(b.http, user, True, "replica b to allow on the second consent")
        assert (await revoke(a.http, made["grant_id"])).status_code == 200
        # Replica a took every change and answers with all of them; b has caught up once
        # it answers the same (a "deny" alone may be b midway: the first consent's
        # withdrawal applied, the second consent and the revocation not yet).
        settled = await decide(a.http, user, PH_ORG)

        async def caught_up() -> bool:
            return bool(await decide(b.http, user, PH_ORG) == settled)

        await wait_until(caught_up, PROPAGATION, "replica b to answer as replica a")
        assert settled["allow"] is False and "access grant" in settled["reason"]
        before = [await decide(r.http, user, PH_ORG) for r in (a, b)]

        # This user's and this grant's events again, newest first: each grant after
        # its withdrawal, the grant's creation after its revocation.
        def mine(record: ConsumerRecord[bytes, bytes]) -> bool:
            value = record.value or b""
            return ours(schema)(record) and (
                f'"user_id":"{user}"'.encode() in value or made["grant_id"].encode() in value
            )

        again: list[ConsumerRecord[bytes, bytes]] = []
        for topic in (
            events.CONSENT_GRANTED,
            events.CONSENT_WITHDRAWN,
            events.ACCESS_GRANT_CREATED,
            events.ACCESS_GRANT_REVOKED,
        ):
            records = await read_topic(
                f"{schema}.{topic}", until=lambda rs: any(mine(r) for r in rs), settle=0.5
            )
            again.extend(r for r in records if mine(r))
        assert len(again) == 5
        seen: dict[str, list[bytes]] = {"a": [], "b": []}
        for name, r in (("a", a), ("b", b)):
            assert r.runtime.follower is not None
            r.runtime.follower.on_applied = lambda _, value, name=name: seen[name].append(value)
        producer = create_producer(KAFKA)
        await producer.start()
        try:
            for record in sorted(again, key=lambda r: r.timestamp, reverse=True):
                await producer.send_and_wait(
                    record.topic, record.value, record.key, headers=list(record.headers)
                )
        finally:
            await producer.stop()

        def redelivered() -> bool:
            return all({r.value for r in again} <= set(values) for values in seen.values())

        await wait_until(redelivered, PROPAGATION, "the redelivered events")
        after = [await decide(r.http, user, PH_ORG) for r in (a, b)]
        assert after == before
        assert [d["allow"] for d in after] == [False, False]


async def test_a_replica_started_after_the_changes_catches_up(schema: str) -> None:
    user, late = unique("u"), unique("u")
    async with replica(schema, "a") as a:
        kept, dropped = await add_grant(a.http), await add_grant(a.http, "th-board-of-trade")
        await grant(a.http, user, SHARING)
        await grant(a.http, user, "cross_border_transfer", country="TH")
        assert (await revoke(a.http, dropped["grant_id"])).status_code == 200
        assert await allows(a.http, user)
        assert not await allows(a.http, user, "th-board-of-trade")
        async with replica(schema, "c") as c:
            assert await allows(c.http, user), "loaded from the database at start"
            assert not await allows(c.http, user, "th-board-of-trade")
            await grant(a.http, late, SHARING)
            await becomes(c.http, late, True, "replica c to follow a change made after it")
            assert (await revoke(c.http, kept["grant_id"])).status_code == 200
            await becomes(a.http, user, False, "replica a to follow c's revocation")


async def test_a_change_between_marking_and_following_is_not_missed(schema: str) -> None:
    """The gap between loading the database and subscribing: the positions are taken
    before the load, so a change committed after the load is read from the topic."""
    user = unique("u")
    async with replica(schema, "a") as a:
        await add_grant(a.http)
        settings = ConsentSettings(db_schema=schema, replica_id="late")
        follower = Follower(
            bootstrap_servers=KAFKA,
            group_id=settings.replica_group,
            service_group=schema,
            fetch_wait_ms=settings.replication_fetch_wait_ms,
            topic_prefix=f"{schema}.",
        )
        engine = create_engine(settings.database_url, schema, pool_size=2)
        try:
            await follower.mark()
            projection = await service.load_projection(create_sessions(engine), schema)
            receipt = await grant(a.http, user, SHARING, organisation=PH_ORG)
            await read_topic(
                f"{schema}.{events.CONSENT_GRANTED}",
                until=lambda rs: any(
                    receipt["consent_id"].encode() in (r.value or b"") for r in rs
                ),
            )
            await follower.start(projection)

            def follows() -> bool:
                return any(c.active for c in projection.consents.get(user, {}).values())

            await wait_until(follows, PROPAGATION, "the change made between load and follow")
        finally:
            await follower.stop()
            await engine.dispose()


async def test_seeded_organisations_are_announced_once_with_their_privacy_contacts(
    schema: str,
) -> None:
    async with replica(schema, "a"), replica(schema, "b"):
        pass
    async with replica(schema, "a") as a:
        listed = (await a.http.get("/organisations", headers=ADMIN)).json()
    seeded = {o["slug"]: o["privacy_contact"] for o in listed}
    records = await read_topic(
        f"{schema}.{events.ORGANISATION_REGISTERED}",
        until=lambda rs: len([r for r in rs if ours(schema)(r)]) >= len(seeded),
        settle=1.0,
    )
    announced = [
        events.OrganisationRegistered.model_validate_json(r.value or b"").payload
        for r in records
        if ours(schema)(r)
    ]
    assert sorted(p.organisation for p in announced) == sorted(seeded)
    assert {p.organisation: p.privacy_contact for p in announced} == seeded
    assert all(c and c.startswith("privacy@") and c.endswith(".example") for c in seeded.values())


async def test_a_privacy_contact_changed_on_one_replica_reaches_the_other(schema: str) -> None:
    async with replica(schema, "a") as a, replica(schema, "b") as b:
        changed = await a.http.patch(
            f"/organisations/{PH_ORG}",
            json={"privacy_contact": "dpo@dti.example.ph"},
            headers=ADMIN,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["privacy_contact"] == "dpo@dti.example.ph"

        def seen() -> bool:
            org = b.runtime.projection.view.organisations[PH_ORG]
            return org.privacy_contact == "dpo@dti.example.ph"

        await wait_until(seen, PROPAGATION, "replica b to hold the new privacy contact")
    records = await read_topic(
        f"{schema}.{events.ORGANISATION_UPDATED}", until=lambda rs: any(ours(schema)(r) for r in rs)
    )
    updated = [
        events.OrganisationUpdated.model_validate_json(r.value or b"")
        for r in records
        if ours(schema)(r)
    ]
    assert [(e.subject_id, e.payload.privacy_contact) for e in updated] == [
        (PH_ORG, "dpo@dti.example.ph")
    ]
