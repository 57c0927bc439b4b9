"""docs/cli.md is generated from the commands and current; the device-code login flow
(RFC 8628) against a faked OpenID provider (against the real one:
tests/privacyctl/test_oidc_provider.py)."""

from urllib.parse import parse_qs

import httpx
import pytest

from devtools import cli_docs
from privacyctl.commands import session
from privacyctl.core import Cli, Exit, Failure


def test_the_command_reference_is_current() -> None:
    assert cli_docs.TARGET.read_text() == cli_docs.render(), (
        "docs/cli.md is out of date: run python -m devtools.cli_docs"
    )


def provider(answers: list[dict[str, str]]) -> tuple[httpx.Client, list[dict[str, list[str]]]]:
    """A faked OpenID provider whose token endpoint gives ``answers`` in turn."""
    polls: list[dict[str, list[str]]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "device_authorization_endpoint": "https://id.test/device",
                    "token_endpoint": "https://id.test/token",
                },
            )
        if request.url.path == "/device":
            return httpx.Response(
                200,
                json={
                    "device_code": "dev-1",
                    "user_code": "WDJB-MJHT",
                    "verification_uri": "https://id.test/activate",
                    "interval": 0,
                    "expires_in": 60,
                },
            )
        polls.append(parse_qs(request.content.decode()))
        answer = answers.pop(0)
        return httpx.Response(200 if "access_token" in answer else 400, json=answer)

    return httpx.Client(transport=httpx.MockTransport(handle)), polls


def test_device_flow_polls_until_the_person_has_signed_in(
    capsys: pytest.CaptureFixture[str],
) -> None:
    http, polls = provider(
        [
            {"error": "authorization_pending"},
            {"error": "authorization_pending"},
            {"access_token": "tok"},
        ]
    )
    answer = session.device_flow(Cli(), "https://id.test", "privacyctl", http=http)
    assert answer["access_token"] == "tok"
    assert len(polls) == 3 and polls[0]["grant_type"] == [session.DEVICE_GRANT]
    assert polls[0]["device_code"] == ["dev-1"]
    assert "https://id.test/activate" in capsys.readouterr().err


def test_device_flow_stops_when_the_person_refuses() -> None:
    http, _ = provider([{"error": "access_denied", "error_description": "the user said no"}])
    with pytest.raises(Failure) as refused:
        session.device_flow(Cli(), "https://id.test", "privacyctl", http=http)
    assert refused.value.code == Exit.AUTH and "the user said no" in str(refused.value)
