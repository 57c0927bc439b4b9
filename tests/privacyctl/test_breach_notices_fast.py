"""``privacyctl breach resend`` with the HTTP layer faked: what it asks the breach service
for, what it tells a person, and bad input refused before any request."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from privacyctl.core import Exit
from tests.privacyctl.conftest import Run
from tests.privacyctl.fakes import FakeApi, error

BREACH_ID = "6f1c2d9e-0000-4000-8000-000000000001"
RESEND = f"/breaches/{BREACH_ID}/resend"


def answer(requested: int, not_resent: list[str] | None = None) -> dict[str, Any]:
    """The breach service's answer to a re-send."""
    counts = dict.fromkeys(
        ("affected", "delivered", "uncertain", "failed", "notified", "unreachable"), 0
    )
    counts.update(covered_by_announcement=0, pending=requested, requested=requested, affected=5)
    return {
        "breach_id": BREACH_ID,
        "requested": requested,
        "not_resent": not_resent or [],
        "counts": counts,
    }


def test_resend_without_names_asks_for_every_temporary_failure(run: Run, api: FakeApi) -> None:
    api.answer("POST", RESEND, 200, answer(3))
    result = run("breach", "resend", BREACH_ID)
    assert result.exit_code == 0, result.stderr
    (sent,) = api.requests
    assert sent.method == "POST" and json.loads(sent.content or b"{}") == {}
    assert "asked the notifier again for 3 notices" in result.stderr
    assert f"privacyctl breach people {BREACH_ID} --state requested" in result.stderr
    assert "3 asked for again; now 3 requested" in result.stdout


def test_resend_names_people_and_says_who_was_not_sent_again(run: Run, api: FakeApi) -> None:
    api.answer("POST", RESEND, 200, answer(1, ["u-erased"]))
    result = run("breach", "resend", BREACH_ID, "--users", "u-1, u-erased", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(api.requests[0].content) == {"user_ids": ["u-1", "u-erased"]}
    assert json.loads(result.stdout)["not_resent"] == ["u-erased"]  # one document, no prose
    assert "not sent again (1: their notice did not fail" in result.stderr
    assert "u-erased" in result.stderr


def test_resend_reads_the_people_from_a_file(run: Run, api: FakeApi, tmp_path: Path) -> None:
    ids = tmp_path / "failed.txt"
    ids.write_text("u-1\n\nu-2\n")
    api.answer("POST", RESEND, 200, answer(2))
    result = run("breach", "resend", BREACH_ID, "--users-file", str(ids), "-q")
    assert result.exit_code == 0, result.stderr
    assert json.loads(api.requests[0].content) == {"user_ids": ["u-1", "u-2"]}
    assert result.stderr == ""


def test_resend_when_nothing_failed_says_so(run: Run, api: FakeApi) -> None:
    api.answer("POST", RESEND, 200, answer(0))
    result = run("breach", "resend", BREACH_ID)
    assert result.exit_code == 0
    assert "no notice to send again: nobody's notice failed" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "u-1", "--users-file", "x.txt"], "not both"),
        (["--users", " , "], "--users: name at least one user id"),
        (["--users-file", "/nonexistent/ids.txt"], "cannot read /nonexistent/ids.txt"),
    ],
)
def test_resend_refuses_bad_names_before_any_request(
    run: Run, api: FakeApi, args: list[str], message: str
) -> None:
    result = run("breach", "resend", BREACH_ID, *args)
    assert result.exit_code == Exit.USAGE
    assert message in result.stderr and "Traceback" not in result.stderr
    assert api.requests == []


def test_resend_of_a_closed_breach_is_a_conflict(run: Run, api: FakeApi) -> None:
    api.on(
        "POST",
        RESEND,
        lambda _r, _m: httpx.Response(409, json=error("BreachClosed", "the breach is closed")),
    )
    result = run("breach", "resend", BREACH_ID)
    assert result.exit_code == Exit.CONFLICT
    assert "refused: breach: the breach is closed" in result.stderr
