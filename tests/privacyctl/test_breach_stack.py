"""privacyctl's breach commands against the real breach service (real broker and
database, stored clock): declare, show, close refused naming what is missing, the
outcomes arrive, announce, decide, close, watch, record."""

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from privacyctl.core import Exit
from services.breach.main import build_app
from shared.auth import Role
from shared.clock import StoredClock
from shared.db import create_engine
from tests.privacyctl.stack import Stack
from tests.services.breach.conftest import (
    T0,
    declaration,
    outcome,
    prefix_of,
    publish,
    settings,
    user_ids,
)
from tests.support import DATABASE_URL, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
async def stack(
    schema_factory: Callable[[str], str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Stack]:
    schema = schema_factory("cli_breach")
    app = build_app(settings(schema))
    engine: AsyncEngine = create_engine(DATABASE_URL, schema, pool_size=2)
    async with app.router.lifespan_context(app):
        await StoredClock(engine).freeze(T0)
        stack = Stack(monkeypatch, tmp_path, {"breach": app})
        stack.prefix = prefix_of(schema)
        yield stack
    await engine.dispose()


async def test_declare_watch_and_close(stack: Stack, tmp_path: Path) -> None:
    told, unreachable = user_ids("cli", 2)
    file = tmp_path / "breach.json"
    file.write_text(
        json.dumps(declaration(scope=[{"kind": "users", "user_ids": [told, unreachable]}]))
    )

    declared = await stack.run(Role.SECURITY, "breach", "declare", "-f", str(file), "--json")
    assert declared.exit_code == 0, declared.stderr
    breach_id = json.loads(declared.stdout)["breach_id"]

    async def show() -> dict[str, object]:
        shown = await stack.run(Role.AUDITOR, "breach", "show", breach_id, "--json")
        assert shown.exit_code == 0, shown.stderr
        return dict(json.loads(shown.stdout))

    async def resolved() -> bool:
        return (await show())["scopes_resolving"] == 0

    await wait_until(resolved, 30, "the scope to be resolved")
    refused = await stack.run(Role.SECURITY, "breach", "close", breach_id)
    assert refused.exit_code == Exit.CONFLICT
    assert "2 people have no outcome yet" in refused.stderr
    assert "regulator decision" in refused.stderr

    await publish(
        outcome(breach_id, told, at=T0 + timedelta(hours=1)),
        outcome(breach_id, unreachable, at=T0 + timedelta(hours=1), failed=True, reason="erased"),
        prefix=stack.prefix,
    )

    async def outcomes_in() -> bool:
        counts = (await show())["counts"]
        return counts["delivered"] == 1 and counts["failed"] == 1  # type: ignore[index]

    await wait_until(outcomes_in, 30, "the outcomes to arrive")
    pending = await stack.run(
        Role.AUDITOR, "breach", "people", breach_id, "--state", "pending", "--json"
    )
    assert [json.loads(line)["user_id"] for line in pending.stdout.splitlines()] == [unreachable]
    failed = await stack.run(Role.AUDITOR, "breach", "people", breach_id, "--state", "failed")
    assert unreachable in failed.stdout and told not in failed.stdout

    at = T0.isoformat()  # the service's clock stands still at T0
    text = "We lost a contact list; see how to protect yourself."
    announced = await stack.run(
        Role.SECURITY, "breach", "announce", breach_id, "--text", text,
        "--where", "https://example.org/notice", "--published-at", at,
    )  # fmt: skip
    assert announced.exit_code == 0, announced.stderr
    decided = await stack.run(
        Role.SECURITY, "breach", "decide", breach_id, "--report",
        "--authority", "National Privacy Commission", "--reported-at", at,
    )  # fmt: skip
    assert decided.exit_code == 0, decided.stderr
    closed = await stack.run(Role.SECURITY, "breach", "close", breach_id, "--json")
    assert closed.exit_code == 0, closed.stderr
    assert json.loads(closed.stdout)["status"] == "closed"

    watched = await stack.run(Role.AUDITOR, "breach", "show", breach_id, "--watch", "--json")
    assert watched.exit_code == 0  # a closed breach: one line, and the watch ends
    assert json.loads(watched.stdout.splitlines()[-1])["status"] == "closed"

    listed = await stack.run(Role.AUDITOR, "breach", "list", "--status", "closed", "--json")
    assert breach_id in [b["breach_id"] for b in json.loads(listed.stdout)]
    page = tmp_path / "record.html"
    recorded = await stack.run(
        Role.AUDITOR, "breach", "record", breach_id, "--format", "html", "-o", str(page)
    )
    assert recorded.exit_code == 0 and "<html" in page.read_text().lower()
    record = await stack.run(Role.AUDITOR, "breach", "record", breach_id)
    assert json.loads(record.stdout)["supervisory_authority"]["reported"] is True


async def test_a_member_organisation_is_refused_with_the_auth_code(stack: Stack) -> None:
    result = await stack.run(Role.MEMBER_ORG, "breach", "list", org_id="ph-philexport")
    assert result.exit_code == Exit.AUTH
    assert "may not call this" in result.stderr


async def test_scope_add_widens_the_breach(stack: Stack, tmp_path: Path) -> None:
    file = tmp_path / "breach.yaml"
    file.write_text(json.dumps(declaration()))  # JSON is YAML too
    declared = await stack.run(Role.SECURITY, "breach", "declare", "-f", str(file), "--json")
    breach_id = json.loads(declared.stdout)["breach_id"]
    (person,) = user_ids("scope", 1)
    added = await stack.run(Role.SECURITY, "breach", "scope", "add", breach_id, "--users", person)
    assert added.exit_code == 0, added.stderr
    both = await stack.run(
        Role.SECURITY, "breach", "scope", "add", breach_id, "--users", "x", "--everyone"
    )
    assert both.exit_code == Exit.USAGE and "exactly one" in both.stderr

    async def affected() -> bool:
        shown = await stack.run(Role.AUDITOR, "breach", "show", breach_id, "--json")
        return bool(json.loads(shown.stdout)["counts"]["affected"] == 1)

    await wait_until(affected, 30, "the new person to be affected")


async def test_resend_asks_again_for_failed_notices(stack: Stack, tmp_path: Path) -> None:
    gave_up, rejected, told = user_ids("resend", 3)
    file = tmp_path / "breach.json"
    file.write_text(
        json.dumps(declaration(scope=[{"kind": "users", "user_ids": [gave_up, rejected, told]}]))
    )
    declared = await stack.run(Role.SECURITY, "breach", "declare", "-f", str(file), "--json")
    assert declared.exit_code == 0, declared.stderr
    breach_id = json.loads(declared.stdout)["breach_id"]

    async def shown() -> dict[str, Any]:
        result = await stack.run(Role.SECURITY, "breach", "show", breach_id, "--json")
        return dict(json.loads(result.stdout))

    async def resolved() -> bool:
        return (await shown())["scopes_resolving"] == 0

    await wait_until(resolved, 30, "the scope to be resolved")
    at = T0 + timedelta(hours=1)
    await publish(
        outcome(breach_id, gave_up, at=at, failed=True, reason="retries_exhausted"),
        outcome(breach_id, rejected, at=at, failed=True, reason="rejected"),
        outcome(breach_id, told, at=at),
        prefix=stack.prefix,
    )

    async def outcomes_in() -> bool:
        counts = (await shown())["counts"]
        return bool(counts["failed"] == 2 and counts["delivered"] == 1)

    await wait_until(outcomes_in, 30, "the outcomes to arrive")
    again = await stack.run(Role.SECURITY, "breach", "resend", breach_id, "--json")
    assert again.exit_code == 0, again.stderr
    answer = json.loads(again.stdout)
    assert (answer["requested"], answer["counts"]["failed"]) == (1, 1)  # the temporary one
    people = await stack.run(
        Role.SECURITY, "breach", "people", breach_id, "--state", "requested", "--json"
    )
    assert [json.loads(line)["user_id"] for line in people.stdout.splitlines()] == [gave_up]

    named = await stack.run(
        Role.SECURITY, "breach", "resend", breach_id, "--users", f"{rejected},{told}"
    )
    assert named.exit_code == 0, named.stderr
    assert "asked the notifier again for 1 notice;" in named.stderr
    assert "not sent again (1: their notice did not fail" in named.stderr
    assert told in named.stderr
    refused = await stack.run(Role.MEMBER_ORG, "breach", "resend", breach_id, org_id="x")
    assert refused.exit_code == Exit.AUTH
