"""The console in Debian's chromium against the real stack: a breach declared through the
form, watched until everyone is told, decided and closed; the trail filtered and its CSV
equal to the rows on screen; an entry verified, then changed in the database and failing
by name; refusals (a member organisation, a post without its CSRF token); every page and
form with JavaScript off; axe-core on every page; nothing requested off this machine.

Skipped without chromium (``bash deploy/local/browser.sh install``) or Playwright.
Screenshots go to ``SCREENSHOTS_DIR`` (``make screenshots``: docs/screenshots/).
"""

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from shared.auth import Role
from shared.db import create_engine
from tests.security.stack import PH_ORG
from tests.services.audit.test_audit_verify import LOG_TABLES
from tests.services.console.browser import (
    CHROMIUM,
    Browser,
    ConsoleStack,
    axe,
    chromium,  # noqa: F401 - the fixture
    console_stack,  # noqa: F401 - the fixture
    shot,
    sign_in,
)
from tests.support import DATABASE_URL

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]
TIMEOUT = 60_000


def checked(page: Any, chromium: Browser, *, script: bool = True) -> None:  # noqa: F811
    """No serious or critical axe violation (axe runs where scripts do), no CSP report,
    nothing off this machine."""
    if script:
        assert axe(page) == [], page.url
    assert chromium.csp_reports == [], chromium.csp_reports
    assert chromium.left_machine == [], chromium.left_machine


def declare(page: Any, base: str, users: list[str], title: str) -> str:
    """Fill and send the declaration form; the new breach's id."""
    page.goto(f"{base}/breaches/new")
    page.fill("#title", title)
    page.check("#kind-confidentiality")
    page.fill("#data_categories", "email_address, full_name")
    page.fill("#detected_at", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#what_happened", "An export of contact details was readable by link.")
    page.fill("#likely_consequences", "Phishing mail to the people concerned.")
    page.fill("#measures_taken", "The link was revoked and the export deleted.")
    page.fill("#what_you_can_do", "Be wary of mail asking for your password.")
    page.fill("#contact_point", "dpo@example.org")
    page.fill("#scope_users", " ".join(users))
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/breaches/[0-9a-f-]{36}\?done=declared"), timeout=TIMEOUT)
    found = re.search(r"/breaches/([0-9a-f-]{36})", page.url)
    assert found
    return found.group(1)


def decide_and_close(page: Any, base: str, breach_id: str) -> None:
    """Record the regulator decision, then close."""
    page.goto(f"{base}/breaches/{breach_id}")
    page.check("#decision-report")
    page.fill("#authority", "National Privacy Commission")
    page.fill("#reported_at", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    page.click("#decision button[type=submit]")
    page.wait_for_load_state()
    assert "There is a problem" not in page.content(), page.inner_text("main")[:2000]
    page.wait_for_url(re.compile(r"done=decision"), timeout=TIMEOUT)
    assert "The regulator decision is recorded." in page.content()
    page.click("#close button[type=submit]")
    page.wait_for_url(re.compile(r"done=close"), timeout=TIMEOUT)


def test_the_security_team_declares_watches_and_closes_a_breach(
    console_stack: ConsoleStack,  # noqa: F811
    chromium: Browser,  # noqa: F811
) -> None:
    base, seed, shots = console_stack.url, console_stack.seed, console_stack.shots
    page = chromium.page()
    page.set_default_timeout(TIMEOUT)
    page.goto(f"{base}/breaches")
    assert "/signin" in page.url  # no session: the sign-in page
    checked(page, chromium)
    shot(page, shots, "signin")
    sign_in(page, base, Role.SECURITY)

    page.goto(f"{base}/breaches/new")
    checked(page, chromium)
    page.click("form.form button[type=submit]")  # empty: every problem beside its field
    assert page.locator("#title-error").is_visible()
    assert page.locator("#contact_point-error").is_visible()
    checked(page, chromium)
    shot(page, shots, "declare-problems")
    breach_id = declare(page, base, [seed.user_id, seed.other_user_id], "Contact export exposed")

    # live progress: htmx refreshes the counts until the notifier has told everyone
    page.wait_for_function(
        "() => document.querySelector('#count-affected').textContent.trim() === '2'"
    )
    page.wait_for_function(
        "() => document.querySelector('#count-pending').textContent.trim() === '0'"
    )
    assert page.locator("#count-notified").inner_text().strip() == "2"
    checked(page, chromium)
    shot(page, shots, "breach")

    page.goto(f"{base}/breaches")
    row = page.locator("tr", has_text="Contact export exposed")
    assert re.search(r"\d+ h \d+ min left|\d+ d \d+ h left", row.inner_text())
    assert row.locator(".badge-green").count() == 1  # 72 hours ahead
    checked(page, chromium)
    shot(page, shots, "breaches")

    # a post without the CSRF token is refused, with the session's cookie
    refused = page.request.post(f"{base}/breaches/{breach_id}/close", form={})
    assert refused.status == 403 and "Form refused" in refused.text()

    decide_and_close(page, base, breach_id)
    assert page.locator(".state-closed").inner_text() == "closed"
    checked(page, chromium)
    shot(page, shots, "breach-closed")
    page.goto(f"{base}/breaches/{breach_id}/record")
    assert "Contact export exposed" in page.content()
    shot(page, shots, "record")
    page.context.close()

    # a member organisation: 403 on every breach page, saying why
    member = chromium.page()
    sign_in(member, base, Role.MEMBER_ORG, org_id=PH_ORG)
    for path in ("/breaches", "/breaches/new", f"/breaches/{breach_id}"):
        answer = member.goto(f"{base}{path}")
        assert answer is not None and answer.status == 403, path
        assert "may not see" in member.content()
    checked(member, chromium)
    shot(member, shots, "forbidden")
    member.context.close()


def test_an_auditor_filters_exports_and_verifies_the_trail(
    console_stack: ConsoleStack,  # noqa: F811
    chromium: Browser,  # noqa: F811
) -> None:
    base, shots = console_stack.url, console_stack.shots
    page = chromium.page()
    page.set_default_timeout(TIMEOUT)
    sign_in(page, base, Role.AUDITOR)
    page.goto(f"{base}/trail")
    everyone = page.locator("#trail-table tbody tr[data-seq]").count()
    page.fill("#organisation", PH_ORG)  # filter as you type (htmx), no submit
    page.wait_for_url(re.compile(r"organisation=ph-"), timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")
    rows = page.locator("#trail-table tbody tr[data-seq]")
    on_screen = [rows.nth(i).get_attribute("data-seq") for i in range(rows.count())]
    assert 0 < len(on_screen) < everyone
    assert all(PH_ORG in rows.nth(i).inner_text() for i in range(rows.count()))
    checked(page, chromium)
    shot(page, shots, "trail")
    with page.expect_download() as download:
        page.click("#export-csv")
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [row["seq"] for row in exported] == on_screen
    assert {row["organisation_id"] for row in exported} == {PH_ORG}

    seq = int(on_screen[0])
    page.goto(f"{base}/trail/entries/{seq}")
    page.click("#verification button[type=submit]")
    page.wait_for_selector("#verdict")
    assert f"Entry {seq} is in the signed log" in page.inner_text("#verdict")
    checked(page, chromium)
    shot(page, shots, "entry-verified")

    for path, name in (("/violations", "violations"), ("/recipient-requests", "overdue"),
                       ("/log", "log")):  # fmt: skip
        page.goto(f"{base}{path}")
        checked(page, chromium)
        shot(page, shots, name)
    assert "The signature verifies" in page.content()

    tamper(console_stack, seq)
    page.goto(f"{base}/trail/entries/{seq}?verify=1")
    verdict = page.inner_text("#verdict")
    assert f"Entry {seq} does NOT check out" in verdict
    assert "Failed: The entry re-hashed" in page.content()
    checked(page, chromium)
    shot(page, shots, "entry-tampered")
    page.context.close()


def tamper(running: ConsoleStack, seq: int) -> None:
    """Change entry ``seq`` in the database as its owner could (triggers off)."""

    async def change() -> None:
        engine = create_engine(DATABASE_URL, running.stack.schemas["audit"], pool_size=1)
        try:
            async with engine.begin() as conn:
                for table in LOG_TABLES:
                    await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
                await conn.execute(
                    text("UPDATE entries SET purpose = 'marketing' WHERE seq = :seq"),
                    {"seq": seq},
                )
                for table in LOG_TABLES:
                    await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        finally:
            await engine.dispose()

    running.stack.run(change())


def test_without_javascript_every_form_still_works(
    console_stack: ConsoleStack,  # noqa: F811
    chromium: Browser,  # noqa: F811
) -> None:
    base, seed, shots = console_stack.url, console_stack.seed, console_stack.shots
    page = chromium.page(javascript=False)
    page.set_default_timeout(TIMEOUT)
    sign_in(page, base, Role.SECURITY)
    breach_id = declare(page, base, [seed.fuzzed.user_id], "Backup tape lost (no script)")

    def told() -> bool:
        # The scope is resolved after the declaration: before it, nobody is affected and
        # nobody is pending, which is not "everyone told".
        return (
            page.inner_text("#count-affected").strip() == "1"
            and page.inner_text("#count-pending").strip() == "0"
        )

    for _ in range(120):  # no htmx: reload until the person is found and the notice is out
        page.goto(f"{base}/breaches/{breach_id}")
        if told():
            break
        page.wait_for_timeout(500)
    assert told()
    page.select_option("#state", "all")  # the people filter, submitted as a plain form
    page.click("#people form button[type=submit]")
    assert seed.fuzzed.user_id in page.inner_text("#people-table")
    decide_and_close(page, base, breach_id)
    assert page.locator(".state-closed").inner_text() == "closed"
    page.context.close()

    admin = chromium.page(javascript=False)
    sign_in(admin, base, Role.ADMIN)
    admin.goto(f"{base}/admin/organisations")
    admin.fill("#slug", "ph-console-test")
    admin.fill("#name", "Console Test Cooperative")
    admin.fill("#country", "PH")
    admin.click("form.form button[type=submit]")
    admin.wait_for_url(re.compile(r"done=added"))
    assert "ph-console-test" in admin.content()
    checked(admin, chromium, script=False)
    admin.goto(f"{base}/admin/grants")
    admin.select_option("#organisation", "ph-console-test")
    admin.fill("#data_categories", "email_address")
    admin.fill("#days", "30")
    admin.click("section form.form button[type=submit]")
    admin.wait_for_url(re.compile(r"done=granted"))
    row = admin.locator("tr", has_text="ph-console-test")
    row.locator("button", has_text="Revoke").click()
    admin.wait_for_url(re.compile(r"done=revoked"))
    assert "revoked" in admin.locator("tr", has_text="ph-console-test").inner_text()
    checked(admin, chromium, script=False)
    admin.context.close()

    admin = chromium.page()  # the same pages with scripts on, for axe and the pictures
    sign_in(admin, base, Role.ADMIN)
    for path, name in (("/admin/organisations", "organisations"), ("/admin/grants", "grants")):
        admin.goto(f"{base}{path}")
        checked(admin, chromium)
        shot(admin, shots, name)
    admin.context.close()

    subject = chromium.page()
    sign_in(subject, base, Role.SUBJECT, user_id=seed.user_id)
    subject.goto(f"{base}/me")
    assert PH_ORG in subject.content()
    checked(subject, chromium)
    shot(subject, shots, "me")
    subject.goto(f"{base}/me/consents")
    assert "member organisation sharing" in subject.content()
    checked(subject, chromium)
    shot(subject, shots, "consents")
    subject.context.close()
