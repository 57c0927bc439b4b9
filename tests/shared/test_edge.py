"""The HTTP edge of a service built from the shared parts: auth, tracing, health."""

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shared.auth import Role, mint_token
from shared.db import create_engine
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.support import DATABASE_URL, probe_event, unique, wait_until
from tests.support.probe_app import build_probe_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def probe(schema_factory: Callable[[str], str]) -> AsyncIterator[tuple[FastAPI, str]]:
    schema = schema_factory("edge")
    app = build_probe_app(schema, probe_event(unique("edge")), unique("group"))
    async with app.router.lifespan_context(app):
        yield app, schema


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe")


def token(role: Role, org_id: str | None = None) -> dict[str, str]:
    signed = mint_token(DEVELOPMENT_JWT_SECRET, role=role, org_id=org_id)
    return {"Authorization": f"Bearer {signed}"}


async def test_request_without_token_gets_401(probe: tuple[FastAPI, str]) -> None:
    async with client(probe[0]) as http:
        response = await http.post("/probe", params={"n": 1})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "bad_token",
    [
        "not-a-jwt",
        mint_token("another-secret-that-is-long-enough-000000", role=Role.PLATFORM),
        mint_token(DEVELOPMENT_JWT_SECRET, role=Role.PLATFORM, ttl=timedelta(seconds=-5)),
        mint_token(DEVELOPMENT_JWT_SECRET, role=Role.PLATFORM, issuer="someone-else"),
    ],
    ids=["garbage", "wrong-signature", "expired", "wrong-issuer"],
)
async def test_request_with_invalid_token_gets_401(
    probe: tuple[FastAPI, str], bad_token: str
) -> None:
    async with client(probe[0]) as http:
        response = await http.post(
            "/probe", params={"n": 1}, headers={"Authorization": f"Bearer {bad_token}"}
        )
    assert response.status_code == 401
    assert response.json()["detail"]["message"].startswith("invalid token")


async def test_request_with_wrong_role_gets_403(probe: tuple[FastAPI, str]) -> None:
    async with client(probe[0]) as http:
        response = await http.post(
            "/probe", params={"n": 1}, headers=token(Role.MEMBER_ORG, org_id="org-1")
        )
    assert response.status_code == 403
    assert "member_org" in response.json()["detail"]["message"]


async def test_bad_query_parameter_gets_422_naming_it(probe: tuple[FastAPI, str]) -> None:
    async with client(probe[0]) as http:
        response = await http.post("/probe", params={"n": "many"}, headers=token(Role.PLATFORM))
    assert response.status_code == 422
    assert response.json()["detail"]["problems"][0]["field"] == "query.n"


async def test_trace_id_from_the_http_edge_reaches_the_consumer(
    probe: tuple[FastAPI, str],
) -> None:
    app, schema = probe
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**token(Role.PLATFORM), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    async with client(app) as http:
        response = await http.post("/probe", params={"n": 5}, headers=headers)
    assert response.status_code == 202
    event_id = response.json()["event_id"]

    engine = create_engine(DATABASE_URL, schema, pool_size=1)

    async def consumed_trace() -> str | None:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT trace_id FROM probe_rows WHERE event_id = :e"), {"e": event_id}
                )
            ).first()
        return row[0] if row else None

    try:
        await wait_until(consumed_trace, 30, "the consumer to apply the event")
        assert await consumed_trace() == trace_id
    finally:
        await engine.dispose()


async def test_health_and_readiness(probe: tuple[FastAPI, str]) -> None:
    async with client(probe[0]) as http:
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert health.json()["status"] == "ok"
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}
