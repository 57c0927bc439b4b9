"""The console's pages with the services faked: sessions, CSRF, roles, escaping, headers,
the declaration form's problems beside their fields and its one idempotency key."""

import json
import re

import httpx

from services.console.config import ConsoleSettings
from services.console.session import COOKIE
from shared.auth import Role
from tests.privacyctl.fakes import FakeApi, error
from tests.services.console.conftest import (
    BREACH_ID,
    Browser,
    breach_body,
    console,
    person,
    serve_breach,
)
from tests.services.console.conftest import token as _token

PAGES = ["/breaches", "/breaches/new", f"/breaches/{BREACH_ID}", "/trail", "/admin/grants", "/me"]


def test_without_a_session_every_page_goes_to_sign_in(browser: Browser) -> None:
    for path in PAGES:
        answer = browser.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/signin?next="), path


def test_the_session_cookie_is_signed_http_only_and_same_site(browser: Browser) -> None:
    answer = browser.client.post(
        "/signin",
        data={"csrf": browser.csrf(), "token": _token(Role.SECURITY)},
        follow_redirects=False,
    )
    cookie = answer.headers["set-cookie"]
    assert COOKIE in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # development settings
    forged = browser.client.cookies[COOKIE][:-4] + "AAAA"
    browser.client.cookies.set(COOKIE, forged)
    assert browser.client.get("/breaches", follow_redirects=False).status_code == 303


def test_production_cookies_are_secure_and_the_token_form_is_off(api: FakeApi) -> None:
    settings = {"environment": "production", "session_secret": "s" * 40, "jwt_secret": "j" * 40}
    assert ConsoleSettings(**settings).dev_sign_in is False  # type: ignore[arg-type]
    with console(api, **settings) as client:
        page = client.get("/signin")
        assert 'name="token"' not in page.text and "is off here" in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is None  # no form at all
        assert "Secure" in page.headers["set-cookie"]


def test_a_token_that_does_not_verify_is_refused_beside_its_field(browser: Browser) -> None:
    answer = browser.client.post(
        "/signin", data={"csrf": browser.csrf(), "token": "not-a-token"}, follow_redirects=False
    )
    assert answer.status_code == 400
    assert 'id="token-error"' in answer.text and "the token was refused" in answer.text


def test_a_post_without_the_csrf_token_is_refused(browser: Browser, api: FakeApi) -> None:
    browser.sign_in(Role.SECURITY)
    for data in ({}, {"csrf": "someone-elses"}):
        answer = browser.client.post(
            f"/breaches/{BREACH_ID}/close", data=data, follow_redirects=False
        )
        assert answer.status_code == 403
        assert "Form refused" in answer.text and "CSRF" in answer.text
    assert not [r for r in api.requests if r.method == "POST"]  # nothing reached a service


def test_sign_out_ends_the_session(browser: Browser, api: FakeApi) -> None:
    serve_breach(api, breach_body(), [])
    browser.sign_in(Role.SECURITY)
    assert browser.client.get("/breaches").status_code == 200
    assert browser.post("/signout", {}, page="/breaches").status_code == 303
    assert browser.client.get("/breaches", follow_redirects=False).status_code == 303


def test_a_role_that_may_not_see_a_page_gets_a_403_that_says_so(
    browser: Browser, api: FakeApi
) -> None:
    serve_breach(api, breach_body(), [])
    browser.sign_in(Role.MEMBER_ORG, org_id="ph-philexport")
    for path in ["/breaches", "/breaches/new", f"/breaches/{BREACH_ID}", "/trail"]:
        answer = browser.client.get(path)
        assert answer.status_code == 403, path
        assert "Your role, &#39;member_org&#39;, may not see" in answer.text, path
    assert not api.requests  # refused before any call
    browser.sign_in(Role.AUDITOR)
    assert browser.client.get("/breaches").status_code == 200  # auditors read breaches
    declare = browser.client.get("/breaches/new")
    assert declare.status_code == 403 and "acting on a breach" in declare.text


def test_text_from_the_services_is_escaped(browser: Browser, api: FakeApi) -> None:
    serve_breach(api, breach_body(title="<script>alert(1)</script>"), [])
    browser.sign_in(Role.SECURITY)
    page = browser.client.get("/breaches")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_every_page_has_the_security_headers(browser: Browser) -> None:
    page = browser.client.get("/signin")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"


def test_the_list_shows_counts_and_the_badge(browser: Browser, api: FakeApi) -> None:
    serve_breach(api, breach_body(seconds_left=5 * 3600), [])
    browser.sign_in(Role.SECURITY)
    page = browser.client.get("/breaches").text
    assert "BR-2026-0001" in page and "badge-red" in page and "5 h 0 min left" in page


def test_declaring_shows_problems_beside_their_fields_without_a_call(
    browser: Browser, api: FakeApi
) -> None:
    browser.sign_in(Role.SECURITY)
    form = browser.client.get("/breaches/new").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
    assert key
    answer = browser.post(
        "/breaches",
        {"idempotency_key": key.group(1), "title": "", "kinds": [], "detected_at": "tomorrow"},
        page="/breaches/new",
    )
    assert answer.status_code == 422
    for field in ("title", "kinds", "data_categories", "detected_at", "contact_point"):
        assert f'id="{field}-error"' in answer.text, field
    assert key.group(1) in answer.text  # the same form, the same key
    assert not [r for r in api.requests if r.method == "POST"]


def _form(key: str, **changes: str) -> dict[str, object]:
    return {
        "idempotency_key": key,
        "title": "Lost laptop",
        "kinds": ["confidentiality", "availability"],
        "data_categories": "email_address, full_name",
        "detected_at": "2026-12-07T09:00",
        "what_happened": "A laptop was stolen.",
        "likely_consequences": "Phishing.",
        "measures_taken": "Remote wipe.",
        "what_you_can_do": "Be wary of mail.",
        "contact_point": "dpo@example.org",
        "scope_users": "u-1 u-2",
        **changes,
    }


def test_the_service_refusal_goes_beside_the_scope_field(browser: Browser, api: FakeApi) -> None:
    problem = {"field": "scope.0.user_ids", "problem": "no such people", "type": "value_error"}
    api.answer(
        "POST", "/breaches", 422, error("InvalidRequest", "bad", "scope.0", problems=[problem])
    )
    browser.sign_in(Role.SECURITY)
    answer = browser.post("/breaches", _form("k-1"), page="/breaches/new")
    assert answer.status_code == 422
    assert 'id="scope_users-error"' in answer.text and "no such people" in answer.text


def test_a_declaration_is_sent_once_with_the_form_key(browser: Browser, api: FakeApi) -> None:
    sent: list[httpx.Request] = []

    def declare(request: httpx.Request, _m: object) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json=breach_body())

    api.on("POST", "/breaches", declare)
    browser.sign_in(Role.SECURITY)
    for _ in range(2):  # a double submit of one form
        answer = browser.post("/breaches", _form("key-of-this-form"), page="/breaches/new")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith(f"/breaches/{BREACH_ID}")
    assert {r.headers["idempotency-key"] for r in sent} == {"key-of-this-form"}
    body = json.loads(sent[0].content)
    assert body["kinds"] == ["confidentiality", "availability"]
    assert body["data_categories"] == ["email_address", "full_name"]
    assert body["detected_at"] == "2026-12-07T09:00+00:00"  # the form says UTC
    assert body["scope"] == [{"kind": "users", "user_ids": ["u-1", "u-2"]}]


def test_closing_refused_by_the_service_shows_what_is_missing(
    browser: Browser, api: FakeApi
) -> None:
    serve_breach(api, breach_body(), [person("u-1", "failed")])
    api.answer(
        "POST", f"/breaches/{BREACH_ID}/close", 409, error("NotReady", "1 person has no outcome")
    )
    browser.sign_in(Role.SECURITY)
    answer = browser.post(f"/breaches/{BREACH_ID}/close", {}, page=f"/breaches/{BREACH_ID}")
    assert answer.status_code == 422
    assert "1 person has no outcome" in answer.text
    assert "the regulator decision" in answer.text  # the page's own list of what is missing


def test_the_people_csv_is_exactly_the_filtered_list(browser: Browser, api: FakeApi) -> None:
    people = [person("ana", "delivered"), person("ben", "failed"), person("bea", "failed")]
    serve_breach(api, breach_body(), people)
    browser.sign_in(Role.AUDITOR)
    page = browser.client.get(f"/breaches/{BREACH_ID}", params={"state": "failed", "q": "be"})
    on_screen = re.findall(r"<tr><td>([a-z]+)</td><td>failed</td>", page.text)
    csv = browser.client.get(
        f"/breaches/{BREACH_ID}/people.csv", params={"state": "failed", "q": "be"}
    )
    rows = [line.split(",")[0] for line in csv.text.strip().splitlines()[1:]]
    assert on_screen == rows == ["ben", "bea"]


GRANT = {
    "grant_id": "00000000-0000-4000-8000-00000000000a",
    "organisation": "ph-philexport",
    "data_categories": ["email_address", "full_name"],
    "valid_from": "2026-12-01T00:00:00Z",
    "valid_until": "2027-01-01T00:00:00Z",
    "created_at": "2026-12-01T00:00:00Z",
    "created_by": "admin",
    "revoked_at": None,
}
ORGANISATION = {"slug": "ph-philexport", "name": "PhilExport", "kind": "private", "country": "PH"}


def test_an_administrator_sees_grants_plainly_and_revokes_one(
    browser: Browser, api: FakeApi
) -> None:
    api.answer("GET", "/organisations", 200, [ORGANISATION])
    api.answer("GET", "/grants", 200, [GRANT])
    api.answer(
        "POST",
        f"/grants/{GRANT['grant_id']}/revoke",
        200,
        {**GRANT, "revoked_at": "2026-12-07T10:00:00Z"},
    )
    browser.sign_in(Role.ADMIN)
    page = browser.client.get("/admin/grants").text
    assert "email_address, full_name" in page and "root=" not in page
    answer = browser.post(f"/admin/grants/{GRANT['grant_id']}/revoke", {}, page="/admin/grants")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/grants?done=revoked"
    assert [r.url.path for r in api.requests if r.method == "POST"] == [
        f"/grants/{GRANT['grant_id']}/revoke"
    ]


def test_a_grant_for_no_days_is_refused_beside_its_field(browser: Browser, api: FakeApi) -> None:
    api.answer("GET", "/organisations", 200, [ORGANISATION])
    api.answer("GET", "/grants", 200, [])
    browser.sign_in(Role.ADMIN)
    answer = browser.post(
        "/admin/grants",
        {"organisation": "ph-philexport", "data_categories": "email_address", "days": "0"},
        page="/admin/grants",
    )
    assert answer.status_code == 422 and 'id="days-error"' in answer.text
    assert not [r for r in api.requests if r.method == "POST"]


def test_sign_in_goes_on_only_to_a_path_of_the_console() -> None:
    from services.console.signin import safe_next

    assert safe_next("/breaches?status=open") == "/breaches?status=open"
    for elsewhere in ("https://example.org/", "//example.org/x", "javascript:alert(1)", "", None):
        assert safe_next(elsewhere) == "/"


def test_adding_a_scope_sends_exactly_one_and_shows_problems_beside_it(
    browser: Browser, api: FakeApi
) -> None:
    serve_breach(api, breach_body(), [])
    sent: list[httpx.Request] = []

    def add(request: httpx.Request, _m: object) -> httpx.Response:
        sent.append(request)
        scope = {"scope_id": 2, "kind": "country", "spec": json.loads(request.content)}
        times = {"created_at": "2026-12-07T11:00:00Z", "finished_at": None}
        counts = {"added": 0, "found": 0, "pages": 0, "done": False, "last_error": None}
        return httpx.Response(201, json={**scope, **times, **counts, "added_by": "security"})

    api.on("POST", f"/breaches/{BREACH_ID}/scopes", add)
    browser.sign_in(Role.SECURITY)
    page = f"/breaches/{BREACH_ID}"
    two = browser.post(f"{page}/scope", {"scope_users": "u-1", "scope_countries": "PH"}, page=page)
    assert two.status_code == 422 and "exactly one scope" in two.text
    window = browser.post(
        f"{page}/scope", {"scope_organisation": "ph-philexport", "scope_since": "soon"}, page=page
    )
    assert window.status_code == 422 and 'id="scope_organisation-error"' in window.text
    assert not sent
    done = browser.post(f"{page}/scope", {"scope_countries": "ph"}, page=page)
    assert done.status_code == 303 and done.headers["location"].endswith("done=scope#scope")
    assert [json.loads(r.content) for r in sent] == [{"kind": "country", "country": "PH"}]


def test_an_announcement_is_recorded_with_its_time_in_utc(browser: Browser, api: FakeApi) -> None:
    serve_breach(api, breach_body(), [])
    sent: list[httpx.Request] = []

    def announce(request: httpx.Request, _m: object) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=breach_body())

    api.on("POST", f"/breaches/{BREACH_ID}/announcement", announce)
    browser.sign_in(Role.SECURITY)
    page = f"/breaches/{BREACH_ID}"
    form = {"text": "We lost a list.", "where": "https://example.org/n", "published_at": ""}
    missing = browser.post(f"{page}/announcement", form, page=page)
    assert missing.status_code == 422 and 'id="published_at-error"' in missing.text
    form["published_at"] = "2026-12-07T11:00"
    assert browser.post(f"{page}/announcement", form, page=page).status_code == 303
    assert json.loads(sent[0].content)["published_at"] == "2026-12-07T11:00:00Z"
