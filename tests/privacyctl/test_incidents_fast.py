"""``privacyctl incidents``, with the HTTP layer faked: the listing marks escalated
incidents, a dismissal needs its reason, a decided incident is a conflict (exit 5)."""

import json
from typing import Any

from privacyctl.core import Exit
from tests.privacyctl.conftest import Run
from tests.privacyctl.fakes import FakeApi, error

INCIDENT_ID = "0b6c2d9e-0000-4000-8000-000000000002"


def incident(**changes: Any) -> dict[str, Any]:
    return {
        "incident_id": INCIDENT_ID,
        "status": "open",
        "organisation_id": "ph-philexport",
        "producer": None,
        "channel": None,
        "rules": ["volume_breadth", "volume_rate"],
        "data_categories": ["email_address"],
        "window_start": "2026-12-07T10:00:00Z",
        "window_end": "2026-12-07T10:02:00Z",
        "first_detected_at": "2026-12-07T10:00:40Z",
        "last_detected_at": "2026-12-07T10:01:10Z",
        "received_at": "2026-12-07T10:00:41Z",
        "alerts": 3,
        "escalated_at": "2026-12-07T14:00:41Z",
        "summary": "ph-philexport read 4000 distinct people in the hour from 10:00.",
        **changes,
    }


def detail(**changes: Any) -> dict[str, Any]:
    return {
        **incident(**changes),
        "decided_at": None,
        "decided_by": None,
        "reason": None,
        "breach_id": None,
        "evidence": [],
        **changes,
    }


def test_the_listing_marks_escalated_incidents(run: Run, api: FakeApi) -> None:
    api.answer("GET", "/incidents", 200, {"incidents": [incident()]})
    table = run("incidents", "list", env={"COLUMNS": "250"})
    as_json = run("incidents", "list", "--json")
    assert table.exit_code == 0 and "2026-12-07 14:00" in table.stdout
    assert "volume_breadth, volume_rate" in table.stdout
    assert json.loads(as_json.stdout)[0]["escalated_at"] == "2026-12-07T14:00:41Z"


def test_a_dismissal_without_a_reason_is_refused_before_any_request(run: Run, api: FakeApi) -> None:
    result = run("incidents", "dismiss", INCIDENT_ID, "--reason", "  ")
    assert result.exit_code == Exit.USAGE and "reason" in result.stderr
    assert api.requests == []


def test_dismissing_sends_the_reason_and_shows_it(run: Run, api: FakeApi) -> None:
    reason = "An announced penetration test."
    api.answer(
        "POST",
        f"/incidents/{INCIDENT_ID}/dismiss",
        200,
        detail(
            status="dismissed",
            reason=reason,
            decided_at="2026-12-07T11:00:00Z",
            decided_by="sec@platform",
        ),
    )
    result = run("incidents", "dismiss", INCIDENT_ID, "--reason", reason)
    assert result.exit_code == 0, result.stderr
    assert json.loads(api.requests[0].content) == {"reason": reason}
    assert reason in result.stdout


def test_a_decided_incident_is_a_conflict(run: Run, api: FakeApi) -> None:
    api.answer(
        "POST",
        f"/incidents/{INCIDENT_ID}/dismiss",
        409,
        error("IncidentDecided", f"incident {INCIDENT_ID} was declared already", "incident_id"),
    )
    result = run("incidents", "dismiss", INCIDENT_ID, "--reason", "x")
    assert result.exit_code == Exit.CONFLICT
    assert "declared already" in result.stderr
