"""A registry and a consent service, both real apps on the real broker and database.

The registry reaches the consent service over HTTP (in process, through ASGI); the two
exchange events through Kafka exactly as they do when deployed.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from services.consent.config import ConsentSettings
from services.consent.main import build_app as build_consent
from services.consent.repository import NOTICE_VERSION
from services.registry.config import RegistrySettings
from services.registry.main import build_app as build_registry
from shared.auth import Role, mint_token
from shared.clock import ManualClock
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.support import drop_topics, read_topic, topic_prefix, unique

PH_ORG, TH_ORG = "ph-department-of-trade-and-industry", "th-board-of-trade"
SHARING, BORDER, VISIBILITY = (
    "member_organisation_sharing",
    "cross_border_transfer",
    "public_profile_visibility",
)


def auth(role: Role, **claims: str) -> dict[str, str]:
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


ADMIN, PLATFORM = auth(Role.ADMIN), auth(Role.PLATFORM)


def subject(user_id: str) -> dict[str, str]:
    return auth(Role.SUBJECT, user_id=user_id)


def org(slug: str) -> dict[str, str]:
    return auth(Role.MEMBER_ORG, org_id=slug, sub=f"analyst@{slug}")


def registration(**overrides: Any) -> dict[str, Any]:
    """A complete registration with a unique email; ``overrides`` replace fields."""
    body: dict[str, Any] = {
        "full_name": "Maria Santos",
        "email_address": f"{unique('maria')}@example.ph",
        "country_of_residence": "PH",
        "company_name": "Santos Export Trading",
        "company_country": "PH",
        "company_registration_number": f"SEC-{unique('cr')}",
        "business_support_network": "Philippine Chamber of Commerce",
        "referral_source": "a trade fair",
    }
    body.update(overrides)
    return body


PROFILE: dict[str, Any] = {
    "contact_person_full_name": "Jose Rizal Cruz",
    "contact_person_gender": "male",
    "contact_person_email": "jose@santos-export.ph",
    "contact_person_phone": "+63 2 8123 4567",
    "service_name": "Export readiness coaching",
    "service_type": "advisory",
    "service_description": "One-to-one coaching for first-time exporters.",
    "organisation_name": "Santos Export Trading",
    "organisation_email": "info@santos-export.ph",
    "organisation_phone": "+63 2 8765 4321",
    "organisation_logo": "https://cdn.example.ph/santos/logo.png",
    "company_registration_country": "PH",
}


@dataclass
class Stack:
    registry: httpx.AsyncClient
    consent: httpx.AsyncClient
    schema: str
    clock: ManualClock
    """The registry's clock: running with the system's until a test moves it."""
    prefix: str
    """Before every topic of this stack's: it reads only the events it makes."""

    async def events_about(
        self, topic: str, user_id: str, count: int, *, settle: float = 0.0, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """The events on the stack's ``topic`` about ``user_id``, once there are ``count``."""

        def mine(records: list[Any]) -> list[dict[str, Any]]:
            return [json.loads(r.value) for r in records if r.key == user_id.encode()]

        records = await read_topic(
            f"{self.prefix}{topic}",
            until=lambda rs: len(mine(rs)) >= count,
            settle=settle,
            timeout=timeout,
        )
        return mine(records)

    async def register(self, **overrides: Any) -> dict[str, Any]:
        response = await self.registry.post(
            "/users", json=registration(**overrides), headers=PLATFORM
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def consent_to(self, user_id: str, purpose: str, **scope: Any) -> dict[str, Any]:
        response = await self.consent.post(
            "/consents",
            json={
                "user_id": user_id,
                "purpose": purpose,
                "notice_version": NOTICE_VERSION,
                **scope,
            },
            headers=subject(user_id),
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def withdraw(self, user_id: str, consent_id: str) -> None:
        response = await self.consent.post(
            f"/consents/{consent_id}/withdraw", json={}, headers=subject(user_id)
        )
        assert response.status_code == 200, response.text

    async def access_grant(
        self, organisation: str, categories: list[str], *, start: int = -1, end: int = 30
    ) -> None:
        now = datetime.now(UTC)
        response = await self.consent.post(
            "/grants",
            json={
                "organisation": organisation,
                "data_categories": categories,
                "valid_from": (now + timedelta(days=start)).isoformat(),
                "valid_until": (now + timedelta(days=end)).isoformat(),
            },
            headers=ADMIN,
        )
        assert response.status_code == 201, response.text

    async def read(
        self, user_id: str, organisation: str, fields: str, purpose: str = SHARING
    ) -> httpx.Response:
        return await self.registry.get(
            f"/users/{user_id}/data",
            params={"purpose": purpose, "fields": fields},
            headers=org(organisation),
        )


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free local port; yield its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # start-up failed: raise its error
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def stack(schema_factory: Callable[[str], str]) -> AsyncIterator[Stack]:
    consent_schema, registry_schema = schema_factory("consent"), schema_factory("registry")
    clock = ManualClock()
    prefix = topic_prefix("t_registry")
    consent_app = build_consent(
        ConsentSettings(db_schema=consent_schema, log_json=True, topic_prefix=prefix)
    )
    async with serving(consent_app) as consent_url:
        registry_app = build_registry(
            RegistrySettings(
                db_schema=registry_schema,
                consent_url=consent_url,
                visibility_sweep_seconds=0.5,
                log_json=True,
                topic_prefix=prefix,
            ),
            clock=clock,
        )
        async with (
            registry_app.router.lifespan_context(registry_app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=registry_app), base_url="http://registry"
            ) as registry,
            httpx.AsyncClient(base_url=consent_url) as consent,
        ):
            yield Stack(
                registry=registry,
                consent=consent,
                schema=registry_schema,
                clock=clock,
                prefix=prefix,
            )
    await drop_topics(prefix)
