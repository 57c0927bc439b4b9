"""The auditors' pages with the audit service faked: an entry checked in the console
against the signed head (and failing, naming it, once its data changed), the export
asked with exactly the filter on screen."""

import re

import httpx

from shared.auth import Role
from tests.privacyctl.fakes import FakeApi, FakeLog, disclosure
from tests.services.console.conftest import Browser, console


def test_an_entry_verifies_step_by_step(browser: Browser, api: FakeApi) -> None:
    FakeLog(13).mount(api)
    browser.sign_in(Role.AUDITOR)
    page = browser.client.get("/trail/entries/5", params={"verify": "1"}).text
    assert "Entry 5 is in the signed log: every step checks out." in page
    assert page.count("Passed:") == 3 and "Failed:" not in page


def test_a_changed_entry_fails_naming_it(browser: Browser, api: FakeApi) -> None:
    log = FakeLog(13)
    log.tamper(7)
    log.mount(api)
    browser.sign_in(Role.AUDITOR)
    page = browser.client.get("/trail/entries/7", params={"verify": "1"}).text
    assert "Entry 7 does NOT check out" in page
    assert "Failed: The entry re-hashed" in page and "Failed: The audit path" in page
    assert "Passed: The tree head&#39;s signature" in page
    other = browser.client.get("/trail/entries/6", params={"verify": "1"}).text
    assert "Entry 6 is in the signed log" in other


def test_a_key_pinned_in_the_settings_is_used(api: FakeApi) -> None:
    FakeLog(4).mount(api)
    wrong = "A" * 43 + "="  # a key that signed nothing here
    with console(api, audit_public_key=wrong) as client:
        browser = Browser(client)
        browser.sign_in(Role.AUDITOR)
        page = client.get("/trail/entries/1", params={"verify": "1"}).text
    assert "does NOT verify" in page and "pinned in the console" in page


def test_the_export_asks_for_exactly_the_filter_on_screen(browser: Browser, api: FakeApi) -> None:
    seen: list[httpx.Request] = []

    def page(request: httpx.Request, _m: object) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [disclosure(3)], "next_cursor": None})

    def export(request: httpx.Request, _m: object) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"seq,subject_id\r\n3,user-3\r\n")

    api.on("GET", "/disclosures", page)
    api.on("GET", "/disclosures/export", export)
    browser.sign_in(Role.AUDITOR)
    query = {"organisation": "ph-philexport", "decision": "allow", "since": "2026-12-01T00:00"}
    screen = browser.client.get("/trail", params=query).text
    link = re.search(r'href="(/trail/export\.csv[^"]*)"', screen)
    assert link and 'data-seq="3"' in screen
    csv = browser.client.get(link.group(1).replace("&amp;", "&"))
    assert csv.text == "seq,subject_id\r\n3,user-3\r\n"
    listed, exported = (dict(r.url.params) for r in seen)
    exported.pop("format")
    listed.pop("limit")
    assert (
        listed
        == exported
        == {
            "organisation": "ph-philexport",
            "decision": "allow",
            "since": "2026-12-01T00:00:00+00:00",
        }
    )


def test_a_bad_time_in_the_filter_is_shown_beside_it(browser: Browser, api: FakeApi) -> None:
    browser.sign_in(Role.AUDITOR)
    page = browser.client.get("/trail", params={"since": "last week"})
    assert page.status_code == 422 and 'id="since-error"' in page.text
    assert not api.requests
