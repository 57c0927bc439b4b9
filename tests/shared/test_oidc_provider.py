"""The real OpenID provider's tokens (the local Keycloak, deploy/local/oidc.sh) in every
service: found by discovery, verified against its published keys, the role read from the
claim the realm's mapper writes, an unknown role refused naming that claim.

The services' apps are built as they run; the calls below are refused (or admitted) by
the authentication in front of every route, before any database is needed.
"""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.audit.config import AuditSettings
from services.audit.main import build_app as build_audit
from services.breach.config import BreachSettings
from services.breach.main import build_app as build_breach
from services.consent.config import ConsentSettings
from services.consent.main import build_app as build_consent
from services.notifier.config import NotifierSettings
from services.notifier.main import build_app as build_notifier
from services.registry.config import RegistrySettings
from services.registry.main import build_app as build_registry
from shared.auth import ClaimNames, Principal, Role, decode_openid_token, openid_provider
from tests.support import oidc

# One worker for every test of the OpenID provider: its sessions and device grants are
# the provider's own state, and under xdist a device login beside another never got its
# grant (seen once in two tries).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("oidc-provider")]


@pytest.fixture(scope="module")
def tokens(oidc_provider: oidc.Provider) -> dict[str, dict[str, Any]]:
    """The provider's token answers for the security team and for a stranger."""
    return {
        who: oidc.device_tokens(oidc_provider.issuer, oidc.USERS[who])
        for who in ("security", "member_org", "unknown")
    }


def test_the_providers_token_is_verified_by_its_published_keys(
    oidc_provider: oidc.Provider, tokens: dict[str, dict[str, Any]]
) -> None:
    provider = openid_provider(oidc_provider.issuer, oidc.AUDIENCE)
    names = ClaimNames(role=oidc.ROLE_CLAIM)
    security = decode_openid_token(tokens["security"]["access_token"], provider, names)
    assert security.role is Role.SECURITY
    member = decode_openid_token(tokens["member_org"]["access_token"], provider, names)
    assert member == Principal(sub=member.sub, role=Role.MEMBER_ORG, org_id="ph-philexport")


SERVICES: dict[str, tuple[Callable[..., Any], Callable[..., FastAPI], str, str]] = {
    # service: its settings, its app, a route, and a role of the realm that may not call it
    "registry": (RegistrySettings, build_registry, "/users/u-1", "security"),
    "consent": (ConsentSettings, build_consent, "/grants", "security"),
    "audit": (AuditSettings, build_audit, "/disclosures", "security"),
    "breach": (BreachSettings, build_breach, "/breaches", "member_org"),
    "notifier": (NotifierSettings, build_notifier, "/breaches/b-1/deliveries", "member_org"),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_service_reads_the_role_from_the_providers_token(
    service: str, oidc_provider: oidc.Provider, tokens: dict[str, dict[str, Any]]
) -> None:
    settings_type, build, route, not_allowed = SERVICES[service]
    app = build(settings_type(db_schema=f"unused_{service}", **oidc_provider.settings()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as http:

        async def get(token: str) -> httpx.Response:
            return await http.get(route, headers={"Authorization": f"Bearer {token}"})

        refused = await get(tokens[not_allowed]["access_token"])
        assert refused.status_code == 403, refused.text
        role = Role.MEMBER_ORG if not_allowed == "member_org" else Role.SECURITY
        assert f"role '{role.value}' may not call this" in refused.json()["detail"]["message"]

        stranger = (await get(tokens["unknown"]["access_token"])).json()["detail"]
        assert stranger["error"] == "UnknownRole", stranger
        assert stranger["field"] == f"token.{oidc.ROLE_CLAIM}" and "janitor" in stranger["message"]

        forged = await get(tokens["security"]["access_token"][:-4] + "AAAA")
        assert forged.status_code == 401, forged.text
