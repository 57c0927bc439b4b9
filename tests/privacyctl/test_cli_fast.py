"""The command line's output and exit codes, with the HTTP layer faked: every failure is
one sentence naming what failed and what to do, the right code, and no traceback."""

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from privacyctl.core import Exit
from shared.auth import Role
from tests.privacyctl.conftest import Run, token
from tests.privacyctl.fakes import FakeApi, FakeLog, disclosure, error

BREACH_ID = "6f1c2d9e-0000-4000-8000-000000000001"


def breach_body(**changes: Any) -> dict[str, Any]:
    counts = {
        "affected": 3,
        "requested": 0,
        "delivered": 3,
        "uncertain": 0,
        "failed": 0,
        "notified": 3,
        "unreachable": 0,
        "covered_by_announcement": 0,
        "pending": 0,
    }
    return {
        "breach_id": BREACH_ID,
        "reference": "BR-2026-0001",
        "status": "open",
        "title": "Exported contact list left on a public link",
        "what_happened": "A CSV export was readable by anyone with the link.",
        "kinds": ["confidentiality"],
        "started_at": None,
        "ended_at": None,
        "detected_at": "2026-12-07T10:00:00Z",
        "aware_at": "2026-12-07T10:00:00Z",
        "deadline_at": "2026-12-10T10:00:00Z",
        "seconds_left": 3600 * 50,
        "data_categories": ["email_address"],
        "approximate_records": None,
        "likely_consequences": "Phishing.",
        "measures_taken": "Link revoked.",
        "what_you_can_do": "Be wary.",
        "contact_point": "dpo@example.org",
        "declared_by": "security",
        "declared_at": "2026-12-07T10:05:00Z",
        "closed_at": None,
        "counts": counts,
        "announcement_required": False,
        "announcement": None,
        "regulator_decision": None,
        "scopes_resolving": 0,
        **changes,
    }


def test_breach_show_json_is_one_document_on_stdout(run: Run, api: FakeApi) -> None:
    api.answer("GET", f"/breaches/{BREACH_ID}", 200, breach_body())
    result = run("breach", "show", BREACH_ID, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["reference"] == "BR-2026-0001"


def test_breach_show_for_a_person_has_the_time_left(run: Run, api: FakeApi) -> None:
    api.answer("GET", f"/breaches/{BREACH_ID}", 200, breach_body())
    api.answer("GET", f"/breaches/{BREACH_ID}/obligations", 200, obligations_body())
    result = run("breach", "show", BREACH_ID)
    assert result.exit_code == 0
    assert "2 days, 2:00:00 left" in result.stdout and "notified" in result.stdout
    # ... and what it owes each regulator, with the row it was computed from.
    shown = " ".join(result.stdout.split())
    assert "sg regulator" in shown and "required, pending" in shown and "(waiting)" in shown
    assert "la" in shown and "no duty to notify" in shown
    assert "not legal advice" in shown


def test_breach_assess_sends_the_findings_and_shows_the_obligations(run: Run, api: FakeApi) -> None:
    api.answer("POST", f"/breaches/{BREACH_ID}/assessments", 201, obligations_body())
    result = run(
        "breach",
        "assess",
        BREACH_ID,
        "--finding",
        "significant_harm",
        "--sensitive",
        "--text",
        "Names and emails; phishing likely.",
        "--concluded-at",
        "2026-03-02T09:00:00Z",
    )
    assert result.exit_code == 0, result.stderr
    sent = json.loads(api.requests[-1].content)
    assert sent == {
        "concluded_at": "2026-03-02T09:00:00Z",
        "findings": ["significant_harm"],
        "sensitive": True,
        "text": "Names and emails; phishing likely.",
    }
    assert "sg regulator" in " ".join(result.stdout.split())


def test_breach_assess_refuses_an_unknown_finding_before_sending(run: Run, api: FakeApi) -> None:
    result = run("breach", "assess", BREACH_ID, "--finding", "doom", "--text", "x")
    assert result.exit_code == Exit.USAGE
    assert "findings" in result.stderr and api.requests == []


def test_breach_regulator_told_names_the_regime_in_the_path(run: Run, api: FakeApi) -> None:
    api.answer("POST", f"/breaches/{BREACH_ID}/obligations/sg/regulator", 201, obligations_body())
    result = run(
        "breach", "regulator-told", BREACH_ID, "--regime", "sg", "--reference", "PDPC-1", "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(api.requests[-1].content)["reference"] == "PDPC-1"
    assert json.loads(result.stdout)["obligations"][0]["regime"] == "sg"


def obligations_body() -> dict[str, Any]:
    """The obligations of a breach with 600 people in Singapore, before the assessment."""
    obligation = {
        "regime": "sg",
        "regime_name": "Singapore (PDPA)",
        "regulator": "Personal Data Protection Commission (PDPC)",
        "recipient": "regulator",
        "requirement": "required",
        "reason": "600 people covered, at least 500",
        "state": "pending",
        "people": 600,
        "pending_people": None,
        "anchor": "assessment_concluded",
        "anchor_at": None,
        "anchor_note": "waiting for the assessment",
        "deadline_rule": "hours",
        "deadline_at": None,
        "seconds_left": None,
        "warnings_at": [],
        "extended_until": None,
        "phases_until": None,
        "no_delay": False,
        "late_requires_reasons": False,
        "after_regulator": False,
        "assessment_due_at": "2026-03-31T09:00:00Z",
        "assessment_on_file": False,
        "content": [],
        "form": None,
        "unverified": ["to_regulator.content"],
        "met_at": None,
        "met_by": None,
        "delay_reasons": None,
        "evidence": {},
        "marks": [],
        "disclaimer": "Computed from the row 'sg' of services/breach/regimes.toml "
        "(last reviewed 2026-12-07), not legal advice.",
    }
    return {
        "breach_id": BREACH_ID,
        "establishment": [],
        "people_by_country": {"SG": 600, "LA": 3},
        "obligations": [obligation],
        "without_duty": [{"regime": "la", "people": 3, "reason": "no duty"}],
        "assessments": [],
    }


def test_not_found_is_exit_4_with_a_hint_and_no_traceback(run: Run, api: FakeApi) -> None:
    api.answer("GET", f"/breaches/{BREACH_ID}", 404, error("NotFound", "no breach", "breach_id"))
    result = run("breach", "show", BREACH_ID)
    assert result.exit_code == Exit.NOT_FOUND
    assert "not found: breach: no breach (breach_id)" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_unreachable_service_is_exit_6_naming_it(run: Run, api: FakeApi) -> None:
    def refuse(request: httpx.Request, _m: re.Match[str]) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api.on("GET", "/breaches", refuse)
    result = run("breach", "list")
    assert result.exit_code == Exit.UNAVAILABLE
    assert "the breach service at http://127.0.0.1:8004 is not reachable" in result.stderr
    assert "make status" in result.stderr and "Traceback" not in result.stderr
    assert len(api.requests) == 4  # a read is tried again three times before giving up


def test_expired_token_is_exit_3_and_says_to_log_in(run: Run, api: FakeApi) -> None:
    api.answer(
        "GET", "/breaches", 401, error("Unauthorized", "invalid token: Signature has expired")
    )
    result = run("breach", "list")
    assert result.exit_code == Exit.AUTH
    assert "expired" in result.stderr and "privacyctl login" in result.stderr


def test_a_field_problem_is_exit_2_naming_the_field(run: Run, api: FakeApi) -> None:
    problems = [{"field": "where", "problem": "Field required", "type": "missing"}]
    api.answer(
        "POST",
        f"/breaches/{BREACH_ID}/announcement",
        422,
        error("InvalidRequest", "the request did not validate", problems=problems),
    )
    result = run("breach", "announce", BREACH_ID, "--text", "We were breached.", "--where", "x")
    assert result.exit_code == Exit.USAGE
    assert "where: Field required" in result.stderr


def test_bad_input_is_refused_before_any_request(run: Run, api: FakeApi) -> None:
    result = run("breach", "decide", BREACH_ID, "--report", "--reported-at", "yesterday")
    assert result.exit_code == Exit.USAGE
    assert "reported_at" in result.stderr and api.requests == []


def test_a_server_error_is_exit_6(run: Run, api: FakeApi) -> None:
    api.on(
        "GET", "/organisations", lambda _r, _m: httpx.Response(500, text="Internal Server Error")
    )
    result = run("org", "list")
    assert result.exit_code == Exit.UNAVAILABLE
    assert "the service failed: consent: answered 500: Internal Server Error" in result.stderr


def test_declare_reuses_its_idempotency_key_when_retrying(run: Run, api: FakeApi) -> None:
    answers = iter([httpx.Response(503, json=error("Unavailable", "database restarting"))])
    api.on(
        "POST",
        "/breaches",
        lambda _r, _m: next(answers, None) or httpx.Response(201, json=breach_body()),
    )
    result = run(
        "breach", "declare", "--title", "Lost laptop", "--what-happened", "A laptop was stolen.",
        "--kind", "confidentiality", "--category", "email_address", "--consequences", "None known.",
        "--measures", "Disk was encrypted.", "--advice", "Nothing to do.", "--contact", "dpo@x.org",
        "--users", "u1,u2", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    keys = [r.headers["Idempotency-Key"] for r in api.requests]
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0].startswith("privacyctl-")
    sent = json.loads(api.requests[0].content)
    assert sent["scope"] == [{"kind": "users", "user_ids": ["u1", "u2"]}]
    assert json.loads(result.stdout)["breach_id"] == BREACH_ID


def test_declare_reads_a_yaml_file(run: Run, api: FakeApi, tmp_path: Path) -> None:
    file = tmp_path / "breach.yaml"
    file.write_text(
        "title: Lost laptop\nwhat_happened: Stolen.\nkinds: [confidentiality]\n"
        "detected_at: 2026-12-07T10:00:00Z\ndata_categories: [email_address]\n"
        "likely_consequences: None.\nmeasures_taken: Encrypted.\nwhat_you_can_do: Nothing.\n"
        "contact_point: dpo@x.org\n"
    )
    api.answer("POST", "/breaches", 201, breach_body())
    result = run("breach", "declare", "-f", str(file), "-q")
    assert result.exit_code == 0, result.stderr
    assert json.loads(api.requests[0].content)["title"] == "Lost laptop"


def test_close_refused_names_what_is_missing(run: Run, api: FakeApi) -> None:
    api.answer(
        "POST",
        f"/breaches/{BREACH_ID}/close",
        409,
        error("NotReadyToClose", "2 people are neither notified nor covered", pending=2),
    )
    result = run("breach", "close", BREACH_ID)
    assert result.exit_code == Exit.CONFLICT
    assert (
        "cannot close yet: 2 people are neither notified nor covered (pending: 2)" in result.stderr
    )
    assert f"privacyctl breach people {BREACH_ID} --state pending" in result.stderr


def test_people_filters_by_state(run: Run, api: FakeApi) -> None:
    def person(user: str, state: str) -> dict[str, Any]:
        unknown = ("outcome_at", "delivered_at", "failed_at", "message_id", "smtp_code")
        rest = dict.fromkeys((*unknown, "smtp_reply", "queue_id", "reason", "detail"))
        at = "2026-12-07T10:00:00Z"
        return {
            "user_id": user,
            "state": state,
            "data_categories": [],
            "requested_at": at,
            "attempts": 1,
            **rest,
        }

    page = {"people": [person("a", "failed"), person("b", "delivered")], "next_after": None}
    api.answer("GET", f"/breaches/{BREACH_ID}/people", 200, page)
    result = run("breach", "people", BREACH_ID, "--state", "failed", "--json")
    assert [json.loads(line)["user_id"] for line in result.stdout.splitlines()] == ["a"]


def test_trail_pages_through_every_page_as_json_lines(run: Run, api: FakeApi) -> None:
    def page(request: httpx.Request, _m: re.Match[str]) -> httpx.Response:
        cursor = int(request.url.params.get("cursor", 0))
        items = [disclosure(cursor + i) for i in range(3)]
        return httpx.Response(
            200, json={"items": items, "next_cursor": cursor + 3 if cursor < 6 else None}
        )

    api.on("GET", "/disclosures", page)
    result = run(
        "trail",
        "--organisation",
        "ph-philexport",
        "--country",
        "PH",
        "--limit",
        "0",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["seq"] for line in result.stdout.splitlines()] == list(range(9))
    assert api.requests[0].url.params["organisation"] == "ph-philexport"
    assert api.requests[0].url.params["country"] == "PH"


def test_an_interrupted_export_leaves_no_file(run: Run, api: FakeApi, tmp_path: Path) -> None:
    class Broken(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b'{"seq":0}\n'
            raise httpx.ReadError("connection reset")

    api.on("GET", "/disclosures/export", lambda _r, _m: httpx.Response(200, stream=Broken()))
    target = tmp_path / "trail.jsonl"
    result = run("trail", "export", "-o", str(target))
    assert result.exit_code == Exit.UNAVAILABLE
    assert "answer broke off midway (ReadError); nothing was written to" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither the file nor a partial one


def test_an_export_is_written_whole(run: Run, api: FakeApi, tmp_path: Path) -> None:
    body = "".join(json.dumps(disclosure(i)) + "\n" for i in range(5))
    api.on("GET", "/disclosures/export", lambda _r, _m: httpx.Response(200, text=body))
    target = tmp_path / "trail.jsonl"
    result = run("trail", "export", "-o", str(target), "--json")
    assert result.exit_code == 0
    assert target.read_text() == body
    assert json.loads(result.stdout)["rows"] == 5


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk read", "one by one"])
@pytest.mark.parametrize("size", [1, 7, 16, 33])
def test_log_verify_passes_on_a_good_log(run: Run, api: FakeApi, size: int, bulk: bool) -> None:
    FakeLog(size).mount(api, bulk=bulk)
    result = run("log", "verify", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    one_by_one = any(r.url.path.startswith("/entries/") for r in api.requests)
    assert one_by_one is not bulk  # without the bulk read (a 404), one request an entry


@pytest.mark.parametrize(
    ("size", "changed"), [(1, 0), (7, 6), (16, 5), (33, 32), (33, 0), (100, 64)]
)
def test_log_verify_names_the_changed_entry(
    run: Run, api: FakeApi, size: int, changed: int
) -> None:
    log = FakeLog(size)
    log.tamper(changed)
    log.mount(api)
    result = run("log", "verify", "--json")
    assert result.exit_code == Exit.FAILED
    assert json.loads(result.stdout)["first_mismatch"]["seq"] == changed
    assert f"entry {changed}: the entry's data no longer hashes" in result.stderr


def test_log_proof_checks_inclusion_on_the_client(run: Run, api: FakeApi) -> None:
    FakeLog(21).mount(api)
    result = run("log", "proof", "13", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["included"] is True


def test_login_with_a_token_stores_the_profile_and_whoami_reads_it(
    run: Run, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRIVACYCTL_TOKEN")
    assert run("whoami").exit_code == Exit.AUTH
    auditor = token(Role.AUDITOR)
    result = run("login", "--token", auditor, "--audit", "http://audit.test:9003", "-p", "work")
    assert result.exit_code == 0, result.stderr
    me = json.loads(run("whoami", "--json", "-p", "work").stdout)
    assert me["role"] == "auditor" and me["urls"]["audit"] == "http://audit.test:9003"
    assert me["urls"]["registry"] == "http://127.0.0.1:8001"


def test_token_mint_is_refused_in_production(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    monkeypatch.setenv("AUDIT_SIGNING_KEY", "A" * 43 + "=")
    result = run("token", "mint", "--role", "admin")
    assert result.exit_code == Exit.AUTH
    assert "not minted in production" in result.stderr


def test_me_needs_a_subjects_token(run: Run, api: FakeApi) -> None:
    result = run("me", "consents")
    assert result.exit_code == Exit.AUTH and "data subject's token" in result.stderr


def test_me_report_asks_for_my_own_report(
    run: Run, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = f"u-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("PRIVACYCTL_TOKEN", token(Role.SUBJECT, user_id=user))
    report = {
        "items": [disclosure(1, subject_id=user)],
        "next_cursor": None,
        "recipient_notices": [],
    }
    api.answer("GET", f"/subjects/{user}/report", 200, report)
    result = run("me", "report", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["subject_id"] == user


def test_every_command_has_an_example_in_its_help(run: Run) -> None:
    from typer.main import get_command

    from privacyctl.main import app

    def walk(command: Any, path: list[str]) -> list[list[str]]:
        subs = getattr(command, "commands", None)
        if not subs:
            return [path]
        return [p for name, sub in subs.items() for p in walk(sub, [*path, name])]

    leaves = walk(get_command(app), [])
    assert len(leaves) >= 25
    for path in leaves:
        result = run(*path, "--help")
        assert result.exit_code == 0, path
        assert "Example:" in result.stdout and "--json" in result.stdout, path


def test_an_export_stopped_with_ctrl_c_leaves_no_file(
    run: Run, api: FakeApi, tmp_path: Path
) -> None:
    class Stopped(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b'{"seq":0}\n'
            raise KeyboardInterrupt

    api.on("GET", "/disclosures/export", lambda _r, _m: httpx.Response(200, stream=Stopped()))
    result = run("trail", "export", "-o", str(tmp_path / "trail.jsonl"))
    assert result.exit_code == Exit.INTERRUPTED and "interrupted" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_whoami_says_when_the_token_has_expired(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from shared.auth import mint_token
    from shared.settings import DEVELOPMENT_JWT_SECRET

    old = mint_token(DEVELOPMENT_JWT_SECRET, role=Role.AUDITOR, ttl=timedelta(seconds=-5))
    monkeypatch.setenv("PRIVACYCTL_TOKEN", old)
    result = run("whoami")
    assert result.exit_code == Exit.AUTH
    assert "expired" in result.stdout and "the token has expired" in result.stderr
