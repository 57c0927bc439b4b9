"""The consent service against the real broker and database."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.consent.config import ConsentSettings
from services.consent.main import build_app
from services.consent.repository import NOTICE_VERSION
from shared import events
from shared.auth import Role, mint_token
from shared.producers import create_producer
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.support import read_topic, unique, wait_until

pytestmark = pytest.mark.integration

PH_ORG, TH_ORG = "ph-department-of-trade-and-industry", "th-board-of-trade"
SHARING, BORDER = "member_organisation_sharing", "cross_border_transfer"


def auth(role: Role, **claims: str) -> dict[str, str]:
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


ADMIN, PLATFORM = auth(Role.ADMIN), auth(Role.PLATFORM)


def prefix_of(schema: str) -> str:
    """The topic prefix of the consent service on ``schema``: its topics are its own."""
    return f"{schema}."


@asynccontextmanager
async def running(schema: str) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = build_app(
        ConsentSettings(db_schema=schema, log_json=True, topic_prefix=prefix_of(schema))
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://consent") as http:
            yield http


@pytest.fixture
async def schema(schema_factory: Callable[[str], str]) -> str:
    return schema_factory("consent")


@pytest.fixture
async def http(schema: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running(schema) as client:
        yield client


async def grant(http: httpx.AsyncClient, user: str, purpose: str, **extra: Any) -> dict[str, Any]:
    response = await http.post(
        "/consents",
        json={"user_id": user, "purpose": purpose, "notice_version": NOTICE_VERSION, **extra},
        headers=auth(Role.SUBJECT, user_id=user),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def access_grant(http: httpx.AsyncClient, org: str, days: int = 30) -> None:
    now = datetime.now(UTC)
    response = await http.post(
        "/grants",
        json={
            "organisation": org,
            "data_categories": ["email_address", "full_name"],
            "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_until": (now + timedelta(days=days)).isoformat(),
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text


async def decide(
    http: httpx.AsyncClient, user: str, org: str, country: str = "PH", **extra: Any
) -> dict[str, Any]:
    response = await http.post(
        "/decisions",
        json={
            "user_id": user,
            "organisation": org,
            "purpose": SHARING,
            "data_categories": ["email_address"],
            "subject_country": country,
            **extra,
        },
        headers=PLATFORM,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_grant_then_withdraw_allows_before_and_denies_after(
    http: httpx.AsyncClient,
) -> None:
    user = unique("u")
    await access_grant(http, PH_ORG)
    receipt = await grant(http, user, SHARING, organisation=PH_ORG)
    allowed = await decide(http, user, PH_ORG)
    assert allowed["allow"] and allowed["consent_id"] == receipt["consent_id"]
    between = datetime.now(UTC)

    response = await http.post(
        f"/consents/{receipt['consent_id']}/withdraw",
        json={"reason": "changed my mind"},
        headers=auth(Role.SUBJECT, user_id=user),
    )
    assert response.status_code == 200
    denied = await decide(http, user, PH_ORG)
    assert not denied["allow"] and "no consent" in denied["reason"]

    then = await http.get(
        f"/users/{user}/consents", params={"at": between.isoformat()}, headers=ADMIN
    )
    now = await http.get(f"/users/{user}/consents", headers=ADMIN)
    assert [c["active"] for c in then.json()] == [True]
    assert [c["active"] for c in now.json()] == [False]
    history = await http.get(f"/users/{user}/consents/history", headers=ADMIN)
    assert [h["action"] for h in history.json()] == ["granted", "withdrawn"]


async def test_consent_scoped_to_one_organisation_does_not_allow_another(
    http: httpx.AsyncClient,
) -> None:
    user = unique("u")
    other_ph = "ph-philexport"
    await access_grant(http, PH_ORG)
    await access_grant(http, other_ph)
    await grant(http, user, SHARING, organisation=PH_ORG)
    assert (await decide(http, user, PH_ORG))["allow"]
    assert not (await decide(http, user, other_ph))["allow"]


async def test_transfer_abroad_is_denied_without_cross_border_consent(
    http: httpx.AsyncClient,
) -> None:
    user = unique("u")
    await access_grant(http, TH_ORG)
    await grant(http, user, SHARING)
    denied = await decide(http, user, TH_ORG, country="PH")
    assert not denied["allow"] and "cross-border" in denied["reason"]
    await grant(http, user, BORDER, country="TH")
    assert (await decide(http, user, TH_ORG, country="PH"))["allow"]


async def test_access_outside_the_grant_window_is_denied(http: httpx.AsyncClient) -> None:
    user = unique("u")
    await access_grant(http, PH_ORG, days=10)
    await grant(http, user, SHARING)
    later = (datetime.now(UTC) + timedelta(days=11)).isoformat()
    denied = await decide(http, user, PH_ORG, at=later)
    assert not denied["allow"] and "no access grant" in denied["reason"]


async def test_receipt_round_trips(http: httpx.AsyncClient) -> None:
    user = unique("u")
    receipt = await grant(http, user, SHARING, organisation=PH_ORG)
    fetched = await http.get(
        f"/receipts/{receipt['receipt_id']}", headers=auth(Role.SUBJECT, user_id=user)
    )
    assert fetched.json() == receipt
    assert receipt["pii_principal_id"] == user
    assert receipt["notice_version"] == NOTICE_VERSION
    assert receipt["how_to_withdraw"].endswith(f"/consents/{receipt['consent_id']}/withdraw")
    stranger = await http.get(
        f"/receipts/{receipt['receipt_id']}", headers=auth(Role.SUBJECT, user_id="someone")
    )
    assert stranger.status_code == 404


async def test_withdrawal_reaches_kafka_exactly_once(http: httpx.AsyncClient, schema: str) -> None:
    user = unique("u")
    receipt = await grant(http, user, SHARING)
    await http.post(f"/consents/{receipt['consent_id']}/withdraw", json={}, headers=PLATFORM)
    again = await http.post(
        f"/consents/{receipt['consent_id']}/withdraw", json={}, headers=PLATFORM
    )
    assert again.status_code == 409

    def mine(records: list[Any]) -> list[Any]:
        return [
            r
            for r in records
            if events.ConsentWithdrawn.model_validate_json(r.value).payload.consent_id
            == receipt["consent_id"]
        ]

    records = await read_topic(
        prefix_of(schema) + events.CONSENT_WITHDRAWN, until=lambda r: len(mine(r)) >= 1, settle=1.5
    )
    assert len(mine(records)) == 1


async def test_projection_rebuilt_after_restart_answers_the_same(schema: str) -> None:
    user = unique("u")
    async with running(schema) as http:
        await access_grant(http, PH_ORG)
        await access_grant(http, TH_ORG)
        receipt = await grant(http, user, SHARING)
        await http.post(f"/consents/{receipt['consent_id']}/withdraw", json={}, headers=ADMIN)
        await grant(http, user, SHARING, organisation=PH_ORG)
        before = [await decide(http, user, org) for org in (PH_ORG, TH_ORG)]
    async with running(schema) as http:
        after = [await decide(http, user, org) for org in (PH_ORG, TH_ORG)]
    assert after == before
    assert [d["allow"] for d in after] == [True, False]


async def test_registration_records_the_consents_it_implies(
    http: httpx.AsyncClient, schema: str
) -> None:

    from tests.support import KAFKA

    user = unique("u")
    event = events.UserRegistered.create(
        producer="registry",
        subject_id=user,
        payload=events.UserRegisteredPayload(
            user_id=user, full_name="Ana Cruz", email="ana@example.org", country="PH"
        ),
    )
    producer = create_producer(KAFKA)
    await producer.start()
    try:
        for _ in range(2):  # delivered twice: recorded once
            await producer.send_and_wait(
                prefix_of(schema) + events.USER_REGISTERED, event.to_bytes(), event.key()
            )
    finally:
        await producer.stop()

    async def implied() -> list[str]:
        response = await http.get(f"/users/{user}/consents/history", headers=ADMIN)
        return sorted(h["purpose"] for h in response.json())

    await wait_until(implied, 30, "the implied consents")
    assert await implied() == [
        "aggregate_admin_reporting",
        "feedback_contact",
        "new_services_news",
    ]


async def test_roles_are_enforced(http: httpx.AsyncClient) -> None:
    body = {"user_id": "u-a", "purpose": SHARING, "notice_version": NOTICE_VERSION}
    assert (await http.post("/consents", json=body)).status_code == 401
    other = await http.post("/consents", json=body, headers=auth(Role.SUBJECT, user_id="u-b"))
    assert other.status_code == 403
    org_decides = await http.post(
        "/decisions",
        json={
            "user_id": "u-a",
            "organisation": PH_ORG,
            "purpose": SHARING,
            "data_categories": ["email_address"],
        },
        headers=auth(Role.MEMBER_ORG, org_id=PH_ORG),
    )
    assert org_decides.status_code == 403
    own = await http.get("/grants", headers=auth(Role.MEMBER_ORG, org_id=PH_ORG))
    assert own.status_code == 200
    theirs = await http.get(
        "/grants", params={"organisation": TH_ORG}, headers=auth(Role.MEMBER_ORG, org_id=PH_ORG)
    )
    assert theirs.status_code == 403


async def test_bad_fields_are_named(http: httpx.AsyncClient) -> None:
    user = unique("u")
    headers = auth(Role.SUBJECT, user_id=user)
    lower = await http.post(
        "/consents",
        json={
            "user_id": user,
            "purpose": SHARING,
            "notice_version": NOTICE_VERSION,
            "country": "th",
        },
        headers=headers,
    )
    assert lower.status_code == 422 and lower.json()["detail"]["problems"][0]["field"] == "country"
    stale = await http.post(
        "/consents",
        json={"user_id": user, "purpose": SHARING, "notice_version": "1999-01-01"},
        headers=headers,
    )
    assert stale.status_code == 422 and stale.json()["detail"]["field"] == "notice_version"
    category = await http.post(
        "/consents",
        json={
            "user_id": user,
            "purpose": SHARING,
            "notice_version": NOTICE_VERSION,
            "data_categories": ["blood_type"],
        },
        headers=headers,
    )
    assert category.status_code == 422
    assert category.json()["detail"]["field"] == "data_categories"


async def test_decision_api_checks_token_and_names_bad_fields(http: httpx.AsyncClient) -> None:
    question = {
        "user_id": "u-a",
        "organisation": PH_ORG,
        "purpose": SHARING,
        "data_categories": ["email_address"],
    }
    assert (await http.post("/decisions", json=question)).status_code == 401
    bad = await http.post(
        "/decisions", json={**question, "data_categories": "email"}, headers=PLATFORM
    )
    assert bad.status_code == 422
    assert bad.json()["detail"]["problems"][0]["field"] == "data_categories"


async def test_decision_joins_the_callers_trace(http: httpx.AsyncClient) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    response = await http.post(
        "/decisions",
        json={
            "user_id": "u-a",
            "organisation": PH_ORG,
            "purpose": SHARING,
            "data_categories": ["email_address"],
        },
        headers={**PLATFORM, "traceparent": f"00-{trace_id}-b7ad6b7169203331-01"},
    )
    assert response.status_code == 200
    spans = [s for s in exporter.get_finished_spans() if s.name == "POST /decisions"]
    assert [format(s.context.trace_id, "032x") for s in spans] == [trace_id]
    exporter.shutdown()


async def test_retired_organisation_is_denied(http: httpx.AsyncClient) -> None:
    user = unique("u")
    slug = unique("vn-agency").replace("_", "-")
    created = await http.post(
        "/organisations",
        json={"slug": slug, "name": "Agency", "country": "PH", "kind": "governmental"},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    await access_grant(http, slug)
    await grant(http, user, SHARING)
    assert (await decide(http, user, slug))["allow"]
    retired = await http.post(f"/organisations/{slug}/retire", headers=ADMIN)
    assert retired.status_code == 204
    denied = await decide(http, user, slug)
    assert not denied["allow"] and "retired" in denied["reason"]


async def test_a_nul_character_that_reaches_the_database_is_a_422_not_a_500(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/users/a%00b/consents", headers=ADMIN)
    assert response.status_code == 422
    assert "NUL" in response.json()["detail"]["message"]


async def test_the_plain_decision_route_is_still_documented(http: httpx.AsyncClient) -> None:
    openapi = (await http.get("/openapi.json")).json()
    operation = openapi["paths"]["/decisions"]["post"]
    assert "DecisionOut" in str(operation["responses"])
    assert operation["requestBody"]["required"] is True
    assert "get" in openapi["paths"]["/healthz"]
