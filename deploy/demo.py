"""The demo story: run by ``make demo`` once the stack is up.

It walks through what the running stack can do today, against the real services.
Each later feature adds a chapter here.
"""

import email
import email.policy
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.auth import Role, mint_token
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"registry": 8001, "consent": 8002, "audit": 8003, "breach": 8004, "notifier": 8005}


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


PRIVACYCTL_CONFIG = ROOT / ".local" / "demo-privacyctl.json"
"""The demo's own profiles, so it never touches the user's."""


def privacyctl(token: str, *args: str, show: bool = True) -> tuple[int, str]:
    """Run ``privacyctl`` as a person would, print the command (and, with ``show``, what it
    printed); its exit code and stdout."""
    say("  $ privacyctl " + " ".join(shlex.quote(a) for a in args))
    env = {
        **os.environ,
        "PRIVACYCTL_TOKEN": token,
        "PRIVACYCTL_CONFIG": str(PRIVACYCTL_CONFIG),
        "NO_COLOR": "1",
        "COLUMNS": "110",
    }
    done = subprocess.run(
        [sys.executable, "-m", "privacyctl.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if show:
        for line in (done.stdout + done.stderr).rstrip().splitlines():
            say(f"    {line}")
    return done.returncode, done.stdout


def chapter(title: str) -> None:
    say()
    say(f"== {title}")


def consent_story(http: httpx.Client, secret: str) -> int:
    """Grant, decide, withdraw, decide again; return the number of surprises."""
    consent = "http://127.0.0.1:8002"
    user = f"demo-{uuid.uuid4().hex[:6]}"
    org = "ph-philexport"
    admin = {"Authorization": f"Bearer {mint_token(secret, role=Role.ADMIN)}"}
    subject = {"Authorization": f"Bearer {mint_token(secret, role=Role.SUBJECT, user_id=user)}"}
    now = datetime.now(UTC)
    http.post(
        f"{consent}/grants",
        headers=admin,
        json={
            "organisation": org,
            "data_categories": ["email_address", "full_name"],
            "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(days=30)).isoformat(),
        },
    ).raise_for_status()
    say(f"  admin: {org} may read email_address and full_name for 30 days")
    receipt = http.post(
        f"{consent}/consents",
        headers=subject,
        json={
            "user_id": user,
            "purpose": "member_organisation_sharing",
            "organisation": org,
            "notice_version": "2024-01-11",
        },
    ).json()
    say(f"  {user} consents to sharing with {org}; receipt {receipt['receipt_id']}")
    question = {
        "user_id": user,
        "organisation": org,
        "purpose": "member_organisation_sharing",
        "data_categories": ["email_address"],
        "subject_country": "PH",
    }
    first = http.post(f"{consent}/decisions", headers=admin, json=question).json()
    say(f"  may {org} read the email?  {'allow' if first['allow'] else 'deny'}: {first['reason']}")
    abroad = http.post(
        f"{consent}/decisions", headers=admin, json={**question, "subject_country": "VN"}
    ).json()
    say(f"  and if the user lived in Viet Nam?  deny: {abroad['reason']}")
    http.post(
        f"{consent}/consents/{receipt['consent_id']}/withdraw",
        headers=subject,
        json={"reason": "demo"},
    ).raise_for_status()
    after = http.post(f"{consent}/decisions", headers=admin, json=question).json()
    say(f"  {user} withdraws; again?  {'allow' if after['allow'] else 'deny'}: {after['reason']}")
    return int(not first["allow"] or abroad["allow"] or after["allow"])


def registry_story(http: httpx.Client, secret: str) -> tuple[int, str, str]:
    """A user registers, publishes, is read by organisations, and is erased.

    Returns the number of surprises, the user's id and the allowed disclosure's id."""
    registry, consent = "http://127.0.0.1:8001", "http://127.0.0.1:8002"
    surprises = 0

    def bearer(role: Role, **claims: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(secret, role=role, **claims)}"}  # type: ignore[arg-type]

    def expect(response: httpx.Response, status: int, line: str) -> httpx.Response:
        nonlocal surprises
        mark = "" if response.status_code == status else f"  (expected {status}!)"
        surprises += response.status_code != status
        say(f"  {line}: {response.status_code}{mark}")
        return response

    tag = uuid.uuid4().hex[:6]
    user = expect(
        http.post(
            f"{registry}/users",
            headers=bearer(Role.PLATFORM),
            json={
                "full_name": "Maria Santos",
                "email_address": f"maria-{tag}@example.ph",
                "country_of_residence": "PH",
                "company_name": "Santos Export Trading",
                "company_country": "PH",
                "company_registration_number": f"SEC-{tag}",
                "business_support_network": "Philippine Chamber of Commerce",
                "referral_source": "a trade fair",
                "phone_number": "02 8123 4567",
            },
        ),
        201,
        "the platform registers Maria Santos (PH)",
    ).json()
    uid = user["user_id"]
    say(f"    user {uid}, phone stored as {user['phone_number']}")
    me = bearer(Role.SUBJECT, user_id=uid)
    profile = {
        "contact_person_full_name": "Maria Santos",
        "contact_person_gender": "female",
        "contact_person_email": f"maria-{tag}@example.ph",
        "contact_person_phone": "+63 2 8123 4567",
        "service_name": "Export readiness coaching",
        "service_type": "advisory",
        "service_description": "Coaching for first-time exporters in the Visayas.",
        "organisation_name": "Santos Export Trading",
        "organisation_email": f"info-{tag}@santos.ph",
        "organisation_phone": "+63 2 8765 4321",
        "organisation_logo": "https://cdn.example.ph/santos/logo.png",
        "company_registration_country": "PH",
    }
    expect(
        http.put(f"{registry}/users/{uid}/profile", headers=me, json=profile),
        201,
        "Maria fills in her service-provider profile",
    )
    refused = expect(
        http.post(f"{registry}/users/{uid}/profile/publish", headers=me),
        409,
        "she publishes it without consent to public visibility",
    )
    say(f"    {refused.json()['detail']['message']}")
    visibility = http.post(
        f"{consent}/consents",
        headers=me,
        json={
            "user_id": uid,
            "purpose": "public_profile_visibility",
            "notice_version": "2024-01-11",
        },
    ).json()
    published = expect(
        http.post(f"{registry}/users/{uid}/profile/publish", headers=me),
        200,
        "she consents to public visibility and publishes",
    )
    profile_id = published.json()["profile_id"]
    public = expect(
        http.get(f"{registry}/profiles/{profile_id}"),
        200,
        "anyone, without logging in, sees the profile",
    )
    say(f"    shown: {', '.join(sorted(public.json()))}")

    org, abroad = "ph-department-of-trade-and-industry", "th-board-of-trade"
    denied = expect(
        http.get(
            f"{registry}/users/{uid}/data",
            headers=bearer(Role.MEMBER_ORG, org_id=org),
            params={"purpose": "member_organisation_sharing", "fields": "email_address"},
        ),
        403,
        f"{org} asks for her email without consent",
    )
    detail = denied.json()["detail"]
    say(f"    {detail['message']} (recorded as {detail['disclosure_id']})")
    now = datetime.now(UTC)
    for grantee in (org, abroad):
        http.post(
            f"{consent}/grants",
            headers=bearer(Role.ADMIN),
            json={
                "organisation": grantee,
                "data_categories": ["email_address", "full_name"],
                "valid_from": now.isoformat(),
                "valid_until": (now + timedelta(days=30)).isoformat(),
            },
        ).raise_for_status()
        http.post(
            f"{consent}/consents",
            headers=me,
            json={
                "user_id": uid,
                "purpose": "member_organisation_sharing",
                "organisation": grantee,
                "notice_version": "2024-01-11",
            },
        ).raise_for_status()
    read = expect(
        http.get(
            f"{registry}/users/{uid}/data",
            headers=bearer(Role.MEMBER_ORG, org_id=org),
            params={"purpose": "member_organisation_sharing", "fields": "email_address,full_name"},
        ),
        200,
        f"with her consent and a 30-day grant, {org} reads it",
    ).json()
    say(f"    data {read['data']}, data.accessed {read['disclosure_id']}")
    border = expect(
        http.get(
            f"{registry}/users/{uid}/data",
            headers=bearer(Role.MEMBER_ORG, org_id=abroad),
            params={"purpose": "member_organisation_sharing", "fields": "email_address"},
        ),
        403,
        f"{abroad}, in Thailand, asks too",
    )
    say(f"    {border.json()['detail']['message']}")

    http.post(f"{consent}/consents/{visibility['consent_id']}/withdraw", headers=me, json={})
    deadline = time.monotonic() + 10
    while http.get(f"{registry}/profiles/{profile_id}").status_code == 200:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    expect(
        http.get(f"{registry}/profiles/{profile_id}"),
        404,
        "she withdraws consent to public visibility; the profile is gone",
    )
    export = expect(
        http.get(f"{registry}/users/{uid}/export", headers=me),
        200,
        "she exports everything the registry holds",
    )
    say(
        f"    {len(export.json()['user'])} registration fields, profile, "
        f"{len(export.json()['rights_requests'])} rights requests"
    )
    expect(http.delete(f"{registry}/users/{uid}", headers=me), 200, "she erases her data")
    expect(
        http.get(f"{registry}/users/{uid}", headers=bearer(Role.ADMIN)),
        410,
        "afterwards even an admin finds only that she was erased",
    )
    return surprises, uid, read["disclosure_id"]


def audit_story(http: httpx.Client, secret: str, uid: str, disclosure_id: str) -> int:
    """Find the disclosures in the audit log, and prove one is in the signed tree."""
    audit = "http://127.0.0.1:8003"
    auditor = {"Authorization": f"Bearer {mint_token(secret, role=Role.AUDITOR)}"}
    deadline = time.monotonic() + 15
    while True:
        items = http.get(f"{audit}/disclosures", params={"subject": uid}, headers=auditor).json()[
            "items"
        ]
        mine = [i for i in items if i["event_id"] == disclosure_id]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    if not mine:
        say("  the disclosure did not reach the audit log in 15 s (expected it!)")
        return 1
    for item in items:
        say(
            f"  #{item['seq']:<6} {item['decision']:<5} {item['organisation_id']:<36}"
            f" {','.join(item['fields'])}  ({item['decision_reason']})"
        )
    seq = mine[0]["seq"]
    while True:
        head = http.get(f"{audit}/tree-heads/latest", headers=auditor).json()
        if head.get("tree_size", 0) > seq or time.monotonic() > deadline + 5:
            break
        time.sleep(0.3)
    token = mint_token(secret, role=Role.AUDITOR)
    say("  an auditor asks the same of the log, and checks its proof on their own machine:")
    listed, _ = privacyctl(token, "trail", "--subject", uid)
    proved, _ = privacyctl(token, "log", "proof", str(seq))
    return int(listed != 0 or proved != 0)


def recipients_story(http: httpx.Client, secret: str, uid: str) -> int:
    """After her erasure, the organisation that received her data is asked to erase it too."""
    audit = "http://127.0.0.1:8003"
    org, abroad = "ph-department-of-trade-and-industry", "th-board-of-trade"
    auditor = {"Authorization": f"Bearer {mint_token(secret, role=Role.AUDITOR)}"}
    member = {"Authorization": f"Bearer {mint_token(secret, role=Role.MEMBER_ORG, org_id=org)}"}
    subject = {"Authorization": f"Bearer {mint_token(secret, role=Role.SUBJECT, user_id=uid)}"}
    say("  the audit log knows who received her data, and who was refused; it asks only the")
    say("  organisations that received it (2 s after, and again 10 s after, in this demo)")
    deadline = time.monotonic() + 45
    requests: list[dict[str, Any]] = []
    while not requests and time.monotonic() < deadline:
        page = http.get(f"{audit}/recipient-requests", params={"user_id": uid}, headers=auditor)
        requests = page.json()["items"] if page.status_code == 200 else []
        time.sleep(0.5)
    if not requests:
        say("  no request was made in 45 s (expected one!)")
        return 1
    for item in requests:
        say(
            f"  request to {item['organisation']}: {item['action']} "
            f"{', '.join(item['data_categories'])} (answer by {item['respond_by'][:10]})"
        )
    failures = int([r["organisation"] for r in requests] != [org])
    say(f"  {abroad}, refused earlier, is asked nothing")
    maildir = ROOT / ".local" / "smtp" / "maildir"
    mails: list[email.message.Message] = []
    while not mails and time.monotonic() < deadline + 15:
        for f in maildir.rglob("*.eml") if maildir.exists() else []:
            found = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            if uid in found.as_string() and "privacy@" in str(found["To"]):
                mails.append(found)
        time.sleep(0.5)
    for mail in mails:
        say(f"  the notifier mailed {mail['To']}: {str(mail['Subject'])[:70]}")
    failures += int(len(mails) != 1)
    rid = requests[0]["request_id"]
    answer = http.post(f"{audit}/recipient-requests/{rid}/confirm", headers=member)
    say(f"  {org} confirms it erased her data: {answer.status_code}")
    failures += int(answer.status_code != 200)
    report = http.get(f"{audit}/subjects/{uid}/report", headers=subject).json()
    for notice in report.get("recipient_notices", []):
        say(
            f"  her report: {notice['organisation']} told {notice['told_at'][:19]}, "
            f"{notice['delivery']}, {notice['state']}"
        )
    return failures


def breach_story(http: httpx.Client, secret: str) -> int:
    """Three people affected by a breach: each told once by email, then the record and closing."""
    registry, breach = "http://127.0.0.1:8001", "http://127.0.0.1:8004"
    platform = {"Authorization": f"Bearer {mint_token(secret, role=Role.PLATFORM)}"}
    security = {"Authorization": f"Bearer {mint_token(secret, role=Role.SECURITY, sub='sec-lead')}"}
    tag = uuid.uuid4().hex[:6]
    people = [("Somchai Dee", "TH", "th"), ("Siti Rahma", "ID", "id"), ("Ana Cruz", "PH", "en")]
    ids = []
    for name, country, language in people:
        first = name.split()[0].lower()
        user = http.post(
            f"{registry}/users",
            headers=platform,
            json={
                "full_name": name,
                "email_address": f"{first}-{tag}@example.org",
                "country_of_residence": country,
                "company_name": f"{name} Trading",
                "company_country": country,
                "company_registration_number": f"REG-{first}-{tag}",
                "business_support_network": "the national SME agency",
                "referral_source": "a newsletter",
                "language": language,
            },
        )
        if user.status_code != 201:
            say(f"  registering {name}: {user.status_code} (expected 201!)")
            return 1
        ids.append(user.json()["user_id"])
    say(f"  registered {', '.join(p[0] for p in people)} (languages th, id, en)")
    time.sleep(2)  # the notifier learns their addresses from user.registered
    declaration = {
        "title": "Exported contact list left on a public link",
        "what_happened": "A CSV export of member contacts was readable by anyone with the link.",
        "kinds": ["confidentiality"],
        "detected_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "data_categories": ["email_address", "full_name"],
        "likely_consequences": "Phishing emails that quote your name.",
        "measures_taken": "The link was revoked and exports now expire after an hour.",
        "what_you_can_do": "Be wary of emails asking for your password; we never ask.",
        "contact_point": "Data Protection Officer, dpo@example.org",
        "scope": [{"kind": "users", "user_ids": ids}],
    }
    sec_token = mint_token(secret, role=Role.SECURITY, sub="sec-lead")
    declared_file = ROOT / ".local" / f"demo-breach-{tag}.json"
    declared_file.parent.mkdir(exist_ok=True)
    declared_file.write_text(json.dumps(declaration, indent=2))
    key = f"demo-{tag}"
    say("  the security team declares it from a file, with an idempotency key:")
    code, out = privacyctl(
        sec_token, "breach", "declare", "--file", str(declared_file),
        "--idempotency-key", key, "--json", show=False,
    )  # fmt: skip
    if code != 0:
        say(f"  declaring failed with exit code {code} (expected 0!)")
        return 1
    b = json.loads(out)
    bid = b["breach_id"]
    say(f"    {b['reference']}: deadline {b['deadline_at']}, clock from awareness")
    code, out = privacyctl(
        sec_token, "breach", "declare", "--file", str(declared_file),
        "--idempotency-key", key, "--json", show=False,
    )  # fmt: skip
    same = code == 0 and json.loads(out).get("breach_id") == bid
    say("    the same declaration retried: " + ("the same breach" if same else "A SECOND BREACH!"))
    deadline = time.monotonic() + 60
    while True:
        counts = http.get(f"{breach}/breaches/{bid}", headers=security).json()["counts"]
        if counts["notified"] >= len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    say(
        f"  notices: {counts['affected']} affected, {counts['delivered']} accepted by the mail"
        f" server (accepted, not read), {counts['failed']} failed, {counts['pending']} pending"
    )
    failures = int(counts["notified"] < len(ids)) + int(not same)
    maildir = ROOT / ".local" / "smtp" / "maildir"
    mails = [
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        for f in (maildir.rglob("*.eml") if maildir.exists() else [])
    ]
    ours = [m for m in mails if tag in str(m["To"])]
    say(f"  the local SMTP server ({maildir}) holds {len(ours)} notices of this breach:")
    for mail in ours:
        say(f"    to {mail['To']}: {str(mail['Subject'])[:80]}")
    failures += int(len(ours) != len(ids))
    privacyctl(sec_token, "breach", "show", bid)
    authority = "National Privacy Commission"
    decided, _ = privacyctl(
        sec_token, "breach", "decide", bid, "--report", "--authority", authority, "-q", show=False
    )
    closed, _ = privacyctl(sec_token, "breach", "close", bid, "-q")
    record = ROOT / ".local" / f"breach-{b['reference']}.html"
    recorded, _ = privacyctl(
        sec_token, "breach", "record", bid, "--format", "html", "-o", str(record)
    )
    # Each regulator its own record: Thailand's, Indonesia's, as the obligations above say.
    for regime in ("th", "id"):
        page = ROOT / ".local" / f"breach-{b['reference']}-{regime}.html"
        code, _ = privacyctl(
            sec_token, "breach", "record", bid, "--regime", regime, "--format", "html",
            "-o", str(page),
        )  # fmt: skip
        recorded = recorded or code
    return failures + int(decided != 0 or closed != 0 or recorded != 0)


def main() -> int:
    settings = ServiceSettings()
    secret = settings.jwt_secret.get_secret_value()
    failures = 0
    with httpx.Client(timeout=10) as http:
        chapter("1. Every service is up, with its database and broker reachable")
        for name, port in SERVICES.items():
            ready = http.get(f"http://127.0.0.1:{port}/readyz")
            checks = ", ".join(f"{k} {v}" for k, v in ready.json()["checks"].items())
            say(f"  {name:<9} {ready.json()['status']:<9} ({checks})")
            failures += ready.status_code != 200

        chapter("2. Each service documents the events it publishes (AsyncAPI)")
        for name, port in SERVICES.items():
            spec = http.get(f"http://127.0.0.1:{port}/asyncapi.json").json()
            topics = sorted({c["address"] for c in spec["channels"].values()})
            say(f"  {name:<9} {', '.join(topics)}")

        chapter("3. Consent decides every disclosure")
        failures += consent_story(http, secret)

        chapter("4. The registry: a user's data, disclosed only as she allows, and erased")
        surprises, uid, disclosure_id = registry_story(http, secret)
        failures += surprises

        chapter("5. The audit log: every disclosure and refusal, provably in a signed tree")
        failures += audit_story(http, secret, uid, disclosure_id)

        chapter("6. Her erasure reaches the organisations that received her data (Art. 19)")
        failures += recipients_story(http, secret, uid)

        chapter("7. A breach: everyone affected told once by email, within the 72 hours")
        failures += breach_story(http, secret)

    chapter("8. Every call needs a bearer token naming a role")
    token = mint_token(secret, role=Role.MEMBER_ORG, org_id="demo-org")
    say(f"  a member organisation's token: {token[:32]}...")
    say("  mint your own: make token ROLE=subject USER_ID=<id>")

    chapter("Where to look")
    for name, port in SERVICES.items():
        say(f"  {name:<9} http://127.0.0.1:{port}/docs   http://127.0.0.1:{port}/asyncapi")
    say("  logs: .local/logs/<service>.log    stop everything: make down")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
