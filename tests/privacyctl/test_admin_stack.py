"""privacyctl's administrator and data-subject commands against the real consent
service and registry (real broker and database)."""

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from client import Client, consent, registry
from client.models.consent import ConsentGrantRequest
from client.models.registry import RegistrationIn
from privacyctl import core
from privacyctl.core import Exit
from services.consent.config import ConsentSettings
from services.consent.main import build_app as build_consent
from services.consent.repository import NOTICE_VERSION
from services.registry.config import RegistrySettings
from services.registry.main import build_app as build_registry
from shared.auth import Role
from tests.privacyctl.conftest import token
from tests.privacyctl.stack import Stack
from tests.services.registry.conftest import registration
from tests.support import unique

pytestmark = pytest.mark.integration


@pytest.fixture
async def stack(
    schema_factory: Callable[[str], str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Stack]:
    consent_app = build_consent(
        ConsentSettings(db_schema=schema_factory("cli_consent"), log_json=True)
    )
    registry_app = build_registry(
        RegistrySettings(
            db_schema=schema_factory("cli_registry"),
            consent_url="http://127.0.0.1:9",
            log_json=True,
        )
    )
    async with (
        consent_app.router.lifespan_context(consent_app),
        registry_app.router.lifespan_context(registry_app),
    ):
        yield Stack(monkeypatch, tmp_path, {"consent": consent_app, "registry": registry_app})


async def test_every_admin_command(stack: Stack) -> None:
    slug = unique("cli").replace("_", "-")
    added = await stack.run(
        Role.ADMIN,
        "org",
        "add",
        slug,
        "--name",
        "CLI Trading",
        "--kind",
        "private",
        "--country",
        "PH",
        "--json",
    )
    assert added.exit_code == 0, added.stderr
    again = await stack.run(
        Role.ADMIN, "org", "add", slug, "--name", "CLI Trading", "--kind", "private"
    )
    assert again.exit_code == Exit.CONFLICT, again.stderr
    updated = await stack.run(
        Role.ADMIN, "org", "update", slug, "--privacy-contact", "dpo@cli.example", "--json"
    )
    assert json.loads(updated.stdout)["privacy_contact"] == "dpo@cli.example"
    listed = await stack.run(Role.AUDITOR, "org", "list", "--json")
    assert slug in [o["slug"] for o in json.loads(listed.stdout)]

    granted = await stack.run(
        Role.ADMIN,
        "grant",
        "add",
        slug,
        "--category",
        "email_address",
        "--category",
        "full_name",
        "--json",
    )
    assert granted.exit_code == 0, granted.stderr
    grant_id = json.loads(granted.stdout)["grant_id"]
    grants = await stack.run(Role.AUDITOR, "grant", "list", "--organisation", slug, "--json")
    assert [g["grant_id"] for g in json.loads(grants.stdout)] == [grant_id]
    revoked = await stack.run(Role.ADMIN, "grant", "revoke", grant_id, "--json")
    assert json.loads(revoked.stdout)["revoked_at"] is not None

    refused = await stack.run(Role.AUDITOR, "org", "retire", slug)
    assert refused.exit_code == Exit.AUTH and "may not call this" in refused.stderr
    retired = await stack.run(Role.ADMIN, "org", "retire", slug)
    assert retired.exit_code == 0, retired.stderr
    listed = await stack.run(Role.ADMIN, "org", "list", "--json")
    assert next(o for o in json.loads(listed.stdout) if o["slug"] == slug)["retired_at"] is not None
    missing = await stack.run(Role.ADMIN, "org", "update", "no-such-org", "--name", "x")
    assert missing.exit_code == Exit.NOT_FOUND


async def test_me_data_and_consents(stack: Stack) -> None:
    import asyncio

    def register() -> str:
        with Client(token=token(Role.PLATFORM), transport=core.TRANSPORT) as api:
            user = api.send(registry.register(RegistrationIn.model_validate(registration())))
            api.token = token(Role.SUBJECT, user_id=user.user_id)
            wish = {"user_id": user.user_id, "purpose": "public_profile_visibility"}
            request = ConsentGrantRequest.model_validate({**wish, "notice_version": NOTICE_VERSION})
            api.send(consent.grant_consent(request))
            return user.user_id

    user_id = await asyncio.to_thread(register)
    data = await stack.run(Role.SUBJECT, "me", "data", "--json", user_id=user_id)
    assert data.exit_code == 0, data.stderr
    assert json.loads(data.stdout)["user"]["user_id"] == user_id
    consents = await stack.run(Role.SUBJECT, "me", "consents", "--json", user_id=user_id)
    assert consents.exit_code == 0, consents.stderr
    listed = json.loads(consents.stdout)
    # Registering implies some consents of its own (recorded once the consent service reads
    # the registration), so the one granted here is among them, and every one listed is in force.
    assert "public_profile_visibility" in [c["purpose"] for c in listed]
    assert all(c["active"] for c in listed)
    other = await stack.run(Role.SUBJECT, "me", "data", user_id="someone-else")
    assert other.exit_code in (Exit.AUTH, Exit.NOT_FOUND)
