"""The console built with its HTTP layer faked (``tests.privacyctl.fakes.FakeApi``), and a
browser-like test client that signs in with a development token of any role."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.console.config import ConsoleSettings
from services.console.main import build_app
from shared.auth import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.privacyctl.fakes import FakeApi

BREACH_ID = "6f1c2d9e-0000-4000-8000-000000000001"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def token(role: Role, **claims: str) -> str:
    """A development token of the stack's secret."""
    return mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]


class Browser:
    """A test client that keeps its cookie, reads each page's CSRF token, and signs in."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def csrf(self, path: str = "/signin") -> str:
        """The CSRF token of the form on ``path``."""
        page = self.client.get(path)
        found = CSRF.search(page.text)
        assert found, f"no CSRF field on {path}: {page.status_code}"
        return found.group(1)

    def sign_in(self, role: Role, **claims: str) -> None:
        """Sign in with a token of ``role`` through the development form."""
        answer = self.client.post(
            "/signin",
            data={"csrf": self.csrf(), "token": token(role, **claims), "next": "/"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text

    def post(self, path: str, data: dict[str, Any], *, page: str | None = None) -> Any:
        """Post a form as the page ``page`` (default: ``path``'s own) would, CSRF included."""
        return self.client.post(
            path, data={"csrf": self.csrf(page or path), **data}, follow_redirects=False
        )


@pytest.fixture
def api() -> FakeApi:
    """The faked services."""
    return FakeApi()


def console(api: FakeApi, **settings: Any) -> TestClient:
    """The console over ``api``."""
    app = build_app(ConsoleSettings(log_level="WARNING", **settings), transport=api.transport())
    return TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture
def browser(api: FakeApi) -> Iterator[Browser]:
    with console(api) as client:
        yield Browser(client)


def breach_body(**changes: Any) -> dict[str, Any]:
    """A breach as the breach service shows it."""
    counts = {
        "affected": 3,
        "requested": 0,
        "delivered": 2,
        "uncertain": 0,
        "failed": 1,
        "notified": 2,
        "unreachable": 0,
        "covered_by_announcement": 0,
        "pending": 1,
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


def summary_of(body: dict[str, Any]) -> dict[str, Any]:
    """The list's summary of a breach."""
    keys = ("breach_id", "reference", "title", "status", "aware_at", "deadline_at", "seconds_left")
    return {
        **{k: body[k] for k in keys},
        "affected": body["counts"]["affected"],
        "pending": body["counts"]["pending"],
    }


def person(user_id: str, state: str) -> dict[str, Any]:
    """A person's notice as the breach service shows it."""
    return {
        "user_id": user_id,
        "state": state,
        "attempts": 1,
        "data_categories": ["email_address"],
        "requested_at": "2026-12-07T10:06:00Z",
        "outcome_at": None if state == "requested" else "2026-12-07T10:07:00Z",
        "delivered_at": None,
        "failed_at": None,
        "message_id": None,
        "queue_id": None,
        "reason": "mailbox_unavailable" if state == "failed" else None,
        "detail": None,
        "smtp_code": None,
        "smtp_reply": None,
    }


def serve_breach(api: FakeApi, body: dict[str, Any], people: list[dict[str, Any]]) -> None:
    """The breach service's routes for one breach."""
    breach_id = body["breach_id"]
    api.answer("GET", "/breaches", 200, {"breaches": [summary_of(body)], "next_after": None})
    api.answer("GET", f"/breaches/{breach_id}", 200, body)
    api.answer("GET", f"/breaches/{breach_id}/scopes", 200, [])
    api.answer("GET", f"/breaches/{breach_id}/timeline", 200, [])
    api.answer("GET", f"/breaches/{breach_id}/people", 200, {"people": people, "next_after": None})
    unnotified = [p for p in people if p["state"] in ("requested", "failed")]
    api.answer(
        "GET",
        f"/breaches/{breach_id}/unnotified",
        200,
        {"people": unnotified, "next_after": None},
    )
