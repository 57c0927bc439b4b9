"""The local OpenID provider's set-up, read without starting it: the realm the tests and
docs/oidc.md rely on, the pinned download, and the skip where it cannot be started."""

import json
import subprocess

import pytest

from tests.support import oidc

REALM = json.loads((oidc.ROOT / "deploy/local/oidc/realm.json").read_text())


def client(client_id: str) -> dict[str, object]:
    return next(c for c in REALM["clients"] if c["clientId"] == client_id)


def test_the_console_client_uses_the_code_flow_with_pkce_s256() -> None:
    console = client(oidc.CONSOLE_CLIENT)
    assert console["standardFlowEnabled"] is True and console["publicClient"] is False
    assert console["secret"] == oidc.CONSOLE_SECRET
    attributes = console["attributes"]
    assert isinstance(attributes, dict)
    assert attributes["pkce.code.challenge.method"] == "S256"


def test_privacyctl_is_a_public_client_with_the_device_grant() -> None:
    cli = client(oidc.CLI_CLIENT)
    assert cli["publicClient"] is True and cli["standardFlowEnabled"] is False
    attributes = cli["attributes"]
    assert isinstance(attributes, dict)
    assert attributes["oauth2.device.authorization.grant.enabled"] == "true"


@pytest.mark.parametrize("client_id", [oidc.CONSOLE_CLIENT, oidc.CLI_CLIENT])
def test_both_clients_put_the_role_ids_and_audience_in_the_access_token(client_id: str) -> None:
    mappers = client(client_id)["protocolMappers"]
    assert isinstance(mappers, list)
    claims = {m["config"].get("claim.name") for m in mappers if m["config"].get("claim.name")}
    assert claims == {oidc.ROLE_CLAIM, "org_id", "user_id"}
    audiences = [
        m["config"]["included.custom.audience"] for m in mappers if "audience" in m["name"]
    ]
    assert audiences == [oidc.AUDIENCE]
    assert all(m["config"]["access.token.claim"] == "true" for m in mappers)


def test_there_is_a_user_for_each_role_and_one_the_project_does_not_know() -> None:
    roles = {u["username"]: u["attributes"]["privacy_role"][0] for u in REALM["users"]}
    assert {roles[name] for name in oidc.USERS.values()} == {
        "security", "auditor", "admin", "member_org", "subject", "janitor"
    }  # fmt: skip
    member = next(u for u in REALM["users"] if u["username"] == oidc.USERS["member_org"])
    assert member["attributes"]["org_id"] == ["ph-philexport"]


def test_the_download_is_pinned_to_a_version_and_its_sha1() -> None:
    script = (oidc.ROOT / "deploy/local/oidc.sh").read_text()
    pom = (oidc.ROOT / "deploy/local/oidc/pom.xml").read_text()
    version = script.split("KEYCLOAK_VERSION=")[1].split()[0]
    assert f"<keycloak.version>{version}</keycloak.version>" in pom
    sha1 = script.split("KEYCLOAK_SHA1=")[1].split()[0]
    assert len(sha1) == 40 and int(sha1, 16) >= 0


def test_the_tests_are_skipped_saying_why_where_no_java_21_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def script(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        if args == ("status",):
            return subprocess.CompletedProcess(args, 0, "oidc: stopped\n", "")
        assert args == ("java",)
        return subprocess.CompletedProcess(
            args, 1, "", "error: Keycloak needs Java 21 or newer and none was found\n"
        )

    monkeypatch.setattr(oidc, "_script", script)
    assert oidc.unavailable() == "Keycloak needs Java 21 or newer and none was found"
