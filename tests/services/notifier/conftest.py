"""Fixtures of the notifier's tests: a local SMTP server per test, and the service."""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.config import NotifierSettings
from services.notifier.main import build_app
from shared.db import create_engine
from tests.services.notifier.support import SmtpServer, settings
from tests.support import DATABASE_URL


@pytest.fixture
async def smtp(tmp_path: Path) -> AsyncIterator[SmtpServer]:
    server = SmtpServer(tmp_path / "maildir")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def schema(schema_factory: Callable[[str], str]) -> str:
    return schema_factory("notifier")


@pytest.fixture
async def engine(schema: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    yield engine
    await engine.dispose()


@dataclass
class Running:
    settings: NotifierSettings
    http: httpx.AsyncClient
    app: FastAPI

    @property
    def prefix(self) -> str:
        return self.settings.topic_prefix


@pytest.fixture
def notifier_settings(
    request: pytest.FixtureRequest, schema: str, smtp: SmtpServer
) -> NotifierSettings:
    """The test's settings; ``indirect`` parametrisation overrides some."""
    return settings(schema, smtp, **getattr(request, "param", {}))


@pytest.fixture
async def notifier(notifier_settings: NotifierSettings) -> AsyncIterator[Running]:
    app = build_app(notifier_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
            yield Running(notifier_settings, client, app)
