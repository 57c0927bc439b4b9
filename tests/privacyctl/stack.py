"""Running the command line against apps on the test's loop (``bridge.AppsTransport``)."""

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest
from starlette.types import ASGIApp
from typer.testing import Result

from privacyctl import core
from shared.auth import Role
from tests.privacyctl.bridge import AppsTransport
from tests.privacyctl.conftest import Run, token


class Stack:
    """``await stack.run(Role.SECURITY, "breach", "list", "--json")``."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, tmp: Path, apps: Mapping[str, ASGIApp]
    ) -> None:
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("PRIVACYCTL_CONFIG", str(tmp / "config.json"))
        monkeypatch.setenv("NO_COLOR", "1")
        monkeypatch.setattr(core, "TRANSPORT", AppsTransport(apps, asyncio.get_running_loop()))
        self.runner = Run()
        self.prefix = ""
        """Before the topics of the stack's services, where a test publishes their events."""

    async def run(self, role: Role, *args: str, **claims: str) -> Result:
        """The command, run in a thread with a token of ``role``."""
        self.monkeypatch.setenv("PRIVACYCTL_TOKEN", token(role, **claims))
        return await asyncio.to_thread(self.runner, *args)
