"""The consent service's decisions on fakes: the real app and its decision route, over a
projection in memory, asking the runtime's clock what time it is."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.consent.bootstrap import ConsentRuntime
from services.consent.config import ConsentSettings
from services.consent.domain import (
    AccessGrant,
    Action,
    ConsentChange,
    Organisation,
    Purpose,
)
from services.consent.main import build_app
from services.consent.projection import Projection
from shared.auth import Role, mint_token
from shared.clock import ManualClock
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.fast.fakes import NOWHERE_DATABASE, NOWHERE_KAFKA, infrastructure

T0 = datetime(2031, 1, 1, tzinfo=UTC)
"""Years ahead of the machine's time: a decision that used it would find no consent yet."""
SHARING = Purpose("member_organisation_sharing", "Sharing", "consent", False, ("email",), "v1")
PH_ORG = Organisation("ph-dti", "DTI", "PH", "governmental", False)
PLATFORM = {"Authorization": f"Bearer {mint_token(DEVELOPMENT_JWT_SECRET, role=Role.PLATFORM)}"}
ASK = {
    "user_id": "u1",
    "organisation": PH_ORG.slug,
    "purpose": SHARING.code,
    "data_categories": ["email"],
    "subject_country": "PH",
}


def projection() -> Projection:
    """Sharing with the DTI consented for ten days from T0, under a year's access grant."""
    p = Projection(origin="fast")
    p.put_purpose(SHARING)
    p.put_organisation(PH_ORG)
    p.put_grant(AccessGrant("g-1", PH_ORG.slug, frozenset({"email"}), T0, T0 + timedelta(365)))
    p.register_subject("u1", "PH")
    p.apply_change(
        ConsentChange(
            change_id="c1-1",
            consent_id="c1",
            version=1,
            user_id="u1",
            purpose=SHARING.code,
            action=Action.GRANTED,
            at=T0,
            notice_version="v1",
            valid_until=T0 + timedelta(days=10),
        )
    )
    return p


@pytest.fixture
async def service() -> AsyncIterator[tuple[httpx.AsyncClient, ManualClock]]:
    settings = ConsentSettings(
        db_schema="fast_consent",
        database_url=NOWHERE_DATABASE,
        kafka_bootstrap_servers=NOWHERE_KAFKA,
    )
    clock = ManualClock(T0 + timedelta(days=1))
    app = build_app(settings, clock=clock)
    infra = infrastructure(settings)
    app.state.runtime = ConsentRuntime(**vars(infra), projection=projection(), clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://consent"
    ) as http:
        yield http, clock
    await infra.engine.dispose()


async def test_a_decision_without_an_instant_is_taken_at_the_runtimes_clock(
    service: tuple[httpx.AsyncClient, ManualClock],
) -> None:
    http, clock = service
    allowed = await http.post("/decisions", json=ASK, headers=PLATFORM)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["allow"] is True

    await clock.advance(timedelta(days=10))  # the consent ran out: no waiting in real time
    denied = await http.post("/decisions", json=ASK, headers=PLATFORM)
    assert denied.json()["allow"] is False


async def test_a_decision_at_a_given_instant_ignores_the_clock(
    service: tuple[httpx.AsyncClient, ManualClock],
) -> None:
    http, clock = service
    await clock.advance(timedelta(days=100))
    at = (T0 + timedelta(days=2)).isoformat()
    answer = await http.post("/decisions", json={**ASK, "at": at}, headers=PLATFORM)
    assert answer.json()["allow"] is True
