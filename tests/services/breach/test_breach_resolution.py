"""Scopes resolved to people: from the real audit service, the subjects list, named ids;
one request per person however often the same people are named; resumed from the cursor.
"""

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import text

from services.audit.config import AuditSettings
from services.audit.main import build_app as build_audit
from services.breach import resolution
from services.breach.clients import AuditClient
from shared import events
from shared.clock import StoredClock
from shared.db import create_sessions
from shared.events import (
    DataAccessed,
    DataAccessedPayload,
    Decision,
    LegalBasis,
    UserErased,
    UserErasedPayload,
    UserRegistered,
    UserRegisteredPayload,
    UserUpdated,
    UserUpdatedPayload,
)
from tests.services.breach.conftest import (
    AUDITOR,
    SECURITY,
    T0,
    Service,
    declaration,
    prefix_of,
    publish,
    running,
    settings,
    user_ids,
)
from tests.services.registry.conftest import serving
from tests.support import read_topic, unique, wait_until

pytestmark = pytest.mark.integration

WINDOW_START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def disclosure(
    subject: str,
    organisation: str,
    fields: list[str],
    *,
    hours: float,
    decision: Decision = Decision.ALLOW,
) -> DataAccessed:
    return DataAccessed.create(
        producer="registry",
        subject_id=subject,
        payload=DataAccessedPayload(
            organisation_id=organisation,
            organisation_country="PH",
            actor=f"analyst@{organisation}",
            subject_id=subject,
            subject_country="PH",
            fields=fields,
            purpose="member_organisation_sharing",
            legal_basis=LegalBasis.CONSENT,
            channel="registry_api",
            accessed_at=WINDOW_START + timedelta(hours=hours),
            decision=decision,
            consent_id="c-1",
            consent_version=1,
        ),
    )


def org_scope(organisation: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "organisation",
        "organisation": organisation,
        "since": WINDOW_START.isoformat(),
        "until": (WINDOW_START + timedelta(hours=24)).isoformat(),
        **extra,
    }


async def requests_of(service: Service, breach_id: str) -> Counter[str]:
    """How many notification requests the service staged for each person of the breach."""
    staged = await service.staged(events.BREACH_NOTIFICATION_REQUESTED)
    return Counter(
        e["payload"]["user_id"] for e in staged if e["payload"]["breach_id"] == breach_id
    )


async def test_an_organisation_scope_resolves_exactly_whom_the_audit_log_holds(
    schema_factory: Callable[[str], str], schema: str, engine: Any
) -> None:
    org, other = unique("ph-org"), unique("th-org")
    emailed = user_ids("emailed", 12)  # their email address went to org in the window
    phoned = user_ids("phoned", 6)  # only their phone number did
    late, elsewhere, refused = user_ids("late", 4), user_ids("else", 5), user_ids("refused", 3)
    disclosures = [
        *(
            disclosure(u, org, ["email_address", "company_name"], hours=1 + i)
            for i, u in enumerate(emailed)
        ),
        *(disclosure(u, org, ["email_address"], hours=20) for u in emailed[:3]),  # again
        *(disclosure(u, org, ["phone_number"], hours=2) for u in phoned),
        *(disclosure(u, org, ["email_address"], hours=30) for u in late),  # after the window
        *(disclosure(u, other, ["email_address"], hours=3) for u in elsewhere),
        *(disclosure(u, org, ["email_address"], hours=4, decision=Decision.DENY) for u in refused),
    ]
    audit_schema = schema_factory("audit")
    audit = build_audit(
        AuditSettings(
            db_schema=audit_schema,
            tree_head_seconds=0.5,
            log_json=True,
            topic_prefix=prefix_of(audit_schema),
        )
    )
    async with (
        audit.router.lifespan_context(audit),
        serving(audit) as audit_url,
        httpx.AsyncClient(base_url=audit_url) as audit_http,
    ):
        await publish(*disclosures, prefix=prefix_of(audit_schema))

        async def stored() -> bool:
            response = await audit_http.get(
                f"/organisations/{other}/subjects",
                params={
                    "since": WINDOW_START.isoformat(),
                    "until": (WINDOW_START + timedelta(days=2)).isoformat(),
                },
                headers=SECURITY,
            )
            return response.status_code == 200 and len(response.json()["subjects"]) == 5

        await wait_until(stored, 60, "the audit service to hold the disclosures")
        async with running(schema, audit_url=audit_url, resolve_page_size=5) as http:
            clock = StoredClock(engine)
            await clock.freeze(T0)
            service = Service(http=http, schema=schema, engine=engine, clock=clock)
            narrowed = await service.declare(
                data_categories=["email_address"],
                scope=[org_scope(org, data_categories=["email_address"])],
            )
            whole = await service.declare(scope=[org_scope(org)])

            narrowed = await service.resolved(narrowed["breach_id"])
            whole = await service.resolved(whole["breach_id"])
            narrowed_people = await service.people(narrowed["breach_id"])
            whole_people = await service.people(whole["breach_id"])
            requests = await requests_of(service, narrowed["breach_id"])
            scopes = (
                await http.get(f"/breaches/{narrowed['breach_id']}/scopes", headers=AUDITOR)
            ).json()

    assert set(narrowed_people) == set(emailed)
    assert set(whole_people) == set(emailed) | set(phoned)
    assert requests == Counter({u: 1 for u in emailed})
    assert {tuple(p["data_categories"]) for p in narrowed_people.values()} == {("email_address",)}
    assert narrowed["counts"]["affected"] == 12
    assert scopes[0]["found"] == 12 and scopes[0]["added"] == 12 and scopes[0]["pages"] >= 3


async def test_one_request_per_person_when_the_declaration_is_retried_and_a_scope_added_twice(
    service: Service,
) -> None:
    a, b, c, d = user_ids("person", 4)
    key = {"Idempotency-Key": f"k-{uuid4()}"}
    body = {"scope": [{"kind": "users", "user_ids": [a, b, c, b]}]}
    first = await service.http.post(
        "/breaches", json=declaration(**body), headers={**SECURITY, **key}
    )
    retry = await service.http.post(
        "/breaches", json=declaration(**body), headers={**SECURITY, **key}
    )
    breach_id = first.json()["breach_id"]
    assert retry.json()["breach_id"] == breach_id
    for _ in range(2):
        added = await service.http.post(
            f"/breaches/{breach_id}/scopes",
            json={"kind": "users", "user_ids": [b, c, d]},
            headers=SECURITY,
        )
        assert added.status_code == 201, added.text

    breach = await service.resolved(breach_id)
    requests = await requests_of(service, breach_id)

    assert requests == Counter({a: 1, b: 1, c: 1, d: 1})
    assert breach["counts"]["affected"] == 4 and breach["counts"]["requested"] == 4

    async def published() -> bool:
        async with service.engine.connect() as conn:
            left = await conn.execute(
                text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            )
            return left.scalar_one() == 0

    await wait_until(published, 30, "the relay to publish the requests")
    notices = {f"breach:{breach_id}:{u}" for u in (a, b, c, d)}
    records = await read_topic(
        prefix_of(service.schema) + events.BREACH_NOTIFICATION_REQUESTED,
        until=lambda rs: notices <= {_notice(r.value) for r in rs},
        settle=1.0,
    )
    on_kafka = Counter(n for r in records if (n := _notice(r.value)) in notices)
    assert on_kafka == Counter({n: 1 for n in notices})


def _notice(value: bytes | None) -> str:
    assert value is not None
    return str(events.BreachNotificationRequested.model_validate_json(value).payload.notice_id)


async def test_country_and_everyone_scopes_come_from_the_subjects_the_service_keeps(
    service: Service,
) -> None:
    ph, th = user_ids("ph", 3), user_ids("th", 2)
    moved, erased = ph[0], th[1]

    def registered(user_id: str, country: str) -> UserRegistered:
        return UserRegistered.create(
            producer="registry",
            subject_id=user_id,
            payload=UserRegisteredPayload(
                user_id=user_id,
                full_name="A Person",
                email=f"{user_id}@example.org",
                country=country,
            ),
        )

    await service.publish(*(registered(u, "PH") for u in ph), *(registered(u, "TH") for u in th))
    await service.publish(
        UserUpdated.create(
            producer="registry",
            subject_id=moved,
            payload=UserUpdatedPayload(user_id=moved, changed_fields=["country"], country="TH"),
        ),
        UserErased.create(
            producer="registry",
            subject_id=erased,
            payload=UserErasedPayload(user_id=erased, erased_at=T0, requested_by="subject"),
        ),
    )

    async def known() -> dict[str, Any]:
        async with service.engine.connect() as conn:
            rows = await conn.execute(text("SELECT user_id, country, erased_at FROM subjects"))
            return {u: (c, e) for u, c, e in rows}

    async def settled() -> bool:
        subjects = await known()
        return (
            set(ph + th) <= set(subjects)
            and subjects[moved][0] == "TH"
            and subjects[erased][1] is not None
        )

    await wait_until(settled, 30, "the subjects list to follow the users' events")
    subjects = await known()
    assert all(subjects[u] == ("PH", None) for u in ph[1:])

    in_thailand = await service.declare(scope=[{"kind": "country", "country": "th"}])
    everyone = await service.declare(scope=[{"kind": "everyone"}])
    thai = await service.people((await service.resolved(in_thailand["breach_id"]))["breach_id"])
    everybody = await service.people((await service.resolved(everyone["breach_id"]))["breach_id"])
    subjects = await known()

    assert {moved, th[0]} <= set(thai)
    assert not ({erased, *ph[1:]} & set(thai))
    assert all(subjects[u][0] == "TH" for u in thai)
    assert set(ph + th) <= set(everybody) <= set(subjects)


async def test_resolution_resumes_from_the_stored_cursor_and_never_doubles(
    schema: str, engine: Any
) -> None:
    people = user_ids("many", 25)
    async with running(schema, resolve_seconds=3600) as http:
        clock = StoredClock(engine)
        await clock.freeze(T0)
        response = await http.post(
            "/breaches",
            json=declaration(scope=[{"kind": "users", "user_ids": people}]),
            headers=SECURITY,
        )
        breach_id = UUID(response.json()["breach_id"])
    sessions = create_sessions(engine)
    audit = AuditClient(settings(schema), base_url="http://127.0.0.1:9", timeout=1)
    async with engine.connect() as conn:
        scope_id = (await conn.execute(text("SELECT scope_id FROM scopes"))).scalar_one()

    more = await resolution.resolve_page(sessions, audit, clock, scope_id, size=10)

    async with engine.connect() as conn:
        cursor = (await conn.execute(text("SELECT cursor FROM scopes"))).scalar_one()
        affected = (await conn.execute(text("SELECT count(*) FROM affected"))).scalar_one()
    assert more and cursor == "10" and affected == 10

    # Two replicas pick the scope up where the first left it, at the same time.
    await asyncio.gather(
        resolution.resolve_pending(sessions, audit, clock, size=10),
        resolution.resolve_pending(sessions, audit, clock, size=10),
    )
    async with running(schema) as http:
        breach = (await http.get(f"/breaches/{breach_id}", headers=AUDITOR)).json()
        staged = Counter(
            e["payload"]["user_id"]
            for e in await Service(http, schema, engine, clock).staged(
                events.BREACH_NOTIFICATION_REQUESTED
            )
        )
    await audit.close()

    assert breach["counts"]["affected"] == 25 and breach["scopes_resolving"] == 0
    assert staged == Counter({u: 1 for u in people})
