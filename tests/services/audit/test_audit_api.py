"""The audit API's edge: bounded numbers and times everywhere (a 422 naming the field,
never a 500), an export that fails before its first byte, and who may read what."""

import json
from datetime import datetime
from typing import Any

import httpx
import pytest

from shared.auth import Role
from tests.services.audit.conftest import Append, auth, body

pytestmark = pytest.mark.integration

AUDITOR = auth(Role.AUDITOR)
SECURITY = auth(Role.SECURITY)
TOO_BIG = str(2**63)
BEFORE_THE_CALENDAR = "0001-01-01T00:00:00+01:00"
AFTER_THE_CALENDAR = "9999-12-31T23:59:59-01:00"
WINDOW = {"since": "2026-01-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/entries/" + TOO_BIG, {}, "path.seq"),
        ("/entries/-1", {}, "path.seq"),
        ("/proofs/inclusion", {"seq": TOO_BIG, "tree_size": 1}, "query.seq"),
        ("/proofs/inclusion", {"seq": 0, "tree_size": TOO_BIG}, "query.tree_size"),
        ("/proofs/consistency", {"first": TOO_BIG, "second": 1}, "query.first"),
        ("/proofs/consistency", {"first": 1, "second": TOO_BIG}, "query.second"),
        ("/tree-heads", {"before": TOO_BIG}, "query.before"),
        ("/tree-heads", {"limit": TOO_BIG}, "query.limit"),
        ("/disclosures", {"cursor": TOO_BIG}, "query.cursor"),
        ("/disclosures", {"cursor": "not-a-position"}, "query.cursor"),
        ("/disclosures", {"limit": TOO_BIG}, "query.limit"),
        ("/disclosures", {"since": BEFORE_THE_CALENDAR}, "query.since"),
        ("/disclosures", {"until": AFTER_THE_CALENDAR}, "query.until"),
        ("/disclosures", {"since": "2026-11-20T10:00:00"}, "query.since"),
        ("/disclosures", {"subject": "a\x00b"}, "query.subject"),
        ("/disclosures/export", {"cursor": "x", "since": BEFORE_THE_CALENDAR}, "query.since"),
        ("/disclosures/export", {"until": AFTER_THE_CALENDAR}, "query.until"),
        ("/disclosures/export", {"purpose": "a\x00b"}, "query.purpose"),
        ("/violations", {"cursor": TOO_BIG}, "query.cursor"),
        ("/subjects/u-1/report", {"cursor": TOO_BIG}, "query.cursor"),
        ("/organisations/o/subjects", {**WINDOW, "until": AFTER_THE_CALENDAR}, "query.until"),
    ],
)
async def test_out_of_range_input_is_a_422_naming_the_field(
    api: httpx.AsyncClient, path: str, params: dict[str, Any], field: str
) -> None:
    response = await api.get(path, params=params, headers=AUDITOR)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] == field


@pytest.mark.parametrize("format", ["csv", "jsonl"])
async def test_an_export_that_cannot_run_fails_before_its_first_byte(
    api: httpx.AsyncClient, append: Append, monkeypatch: pytest.MonkeyPatch, format: str
) -> None:
    from services.audit import queries

    await append([body()])

    async def failing(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        raise queries_error

    queries_error = RuntimeError("the database went away")
    monkeypatch.setattr(queries, "page", failing)  # csv
    monkeypatch.setattr(queries, "export_page", failing)  # jsonl
    response = await api.get("/disclosures/export", params={"format": format}, headers=AUDITOR)
    assert response.status_code == 500  # an error answer, not a 200 cut short


async def test_an_export_streams_every_row(api: httpx.AsyncClient, append: Append) -> None:
    ready = await append([body(subject_id="s-export") for _ in range(3)])
    response = await api.get(
        "/disclosures/export", params={"subject": "s-export", "format": "jsonl"}, headers=AUDITOR
    )
    assert response.status_code == 200
    assert len(response.text.splitlines()) == len(ready.event_ids) == 3
    page = await api.get("/disclosures", params={"subject": "s-export"}, headers=AUDITOR)
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert [_same_times(r) for r in rows] == [_same_times(r) for r in page.json()["items"]]
    assert all(list(r) == list(page.json()["items"][0]) for r in rows)  # the fields, in order


def _same_times(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its times as instants (an export spells them with all six digits)."""
    at = ("accessed_at", "recorded_at")
    return {k: datetime.fromisoformat(v) if k in at else v for k, v in row.items()}


@pytest.mark.parametrize(
    "path",
    ["/disclosures", "/disclosures/export", "/violations", "/subjects/u-1/report", "/entries/0"],
)
async def test_security_may_not_read_disclosure_rows(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path, headers=SECURITY)
    assert response.status_code == 403


async def test_security_reads_subjects_tree_heads_keys_and_proofs(
    api: httpx.AsyncClient, append: Append
) -> None:
    await append([body() for _ in range(3)])
    assert (await api.get("/organisations/o/subjects", params=WINDOW, headers=SECURITY)).is_success
    assert (await api.get("/tree-heads", headers=SECURITY)).is_success
    assert (await api.get("/public-key", headers=SECURITY)).is_success
    # no head is signed in this test's log: the route answers, with a 404 naming tree_size
    for path, params in (
        ("/tree-heads/latest", {}),
        ("/proofs/inclusion", {"seq": 0, "tree_size": 3}),
        ("/proofs/consistency", {"first": 1, "second": 3}),
    ):
        response = await api.get(path, params=params, headers=SECURITY)
        assert response.status_code == 404, path
        assert response.json()["detail"]["field"] == "tree_size"
