"""The command line run in-process, its HTTP layer faked and its config in a temporary file."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from privacyctl import core
from privacyctl.main import app
from shared.auth import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.privacyctl.fakes import FakeApi

# the audit tests' fixtures (a migrated schema, appending through the service's own path)
from tests.services.audit.conftest import append, audit_engine, audit_schema  # noqa: F401


class Run:
    """``run("breach", "list")``: the result (exit code, stdout, stderr)."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return self.runner.invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    """The faked services; every command's client sends to it."""
    fake = FakeApi()
    monkeypatch.setattr(core, "TRANSPORT", fake.transport())
    yield fake


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("PRIVACYCTL_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("PRIVACYCTL_PROFILE", raising=False)
    monkeypatch.setenv("PRIVACYCTL_TOKEN", token(Role.SECURITY))
    return Run()


def token(role: Role, **claims: str) -> str:
    """A development token (the fakes do not check it)."""
    return mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
