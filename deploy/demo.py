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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx

from client import ApiError, Client, NotFound, audit, breach, consent, registry
from client.models.audit import RecipientRequestOut
from client.models.consent import ConsentGrantRequest, DecisionOut, Receipt, WithdrawRequest
from client.models.registry import DisclosureOut, ProfileIn, RegistrationIn
from shared.auth import Role, mint_token
from shared.settings import ServiceSettings

T = TypeVar("T")
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


def consent_story(secret: str) -> int:
    """Grant, decide, withdraw, decide again; return the number of surprises."""
    user = f"demo-{uuid.uuid4().hex[:6]}"
    org = "ph-philexport"
    purpose = "member_organisation_sharing"
    admin = mint_token(secret, role=Role.ADMIN)
    say("  an administrator gives the organisation a 30-day grant:")
    granted, _ = privacyctl(
        admin, "grant", "add", org, "--category", "email_address", "--category", "full_name",
        "--days", "30",
    )  # fmt: skip
    with Client(token=mint_token(secret, role=Role.SUBJECT, user_id=user)) as me:
        receipt = me.send(
            consent.grant_consent(
                ConsentGrantRequest.model_validate(
                    {
                        "user_id": user,
                        "purpose": purpose,
                        "organisation": org,
                        "notice_version": "2024-01-11",
                    }
                )
            )
        )
        say(f"  {user} consents to sharing with {org}; receipt {receipt.receipt_id}")
        with Client(token=admin) as platform:

            def ask(country: str) -> DecisionOut:
                return platform.send(
                    consent.decide(
                        user_id=user,
                        organisation=org,
                        purpose=purpose,
                        data_categories=["email_address"],
                        subject_country=country,
                    )
                )

            first = ask("PH")
            say(f"  may {org} read the email?  {_verdict(first.allow)}: {first.reason}")
            abroad = ask("VN")
            say(f"  and if the user lived in Viet Nam?  deny: {abroad.reason}")
            me.send(
                consent.withdraw_consent(
                    receipt.consent_id, WithdrawRequest.model_validate({"reason": "demo"})
                )
            )
            after = ask("PH")
            say(f"  {user} withdraws; again?  {_verdict(after.allow)}: {after.reason}")
    say("  the person sees their consents (the withdrawn one with its end):")
    listed, _ = privacyctl(mint_token(secret, role=Role.SUBJECT, user_id=user), "me", "consents")
    return int(granted != 0 or listed != 0 or not first.allow or abroad.allow or after.allow)


def _verdict(allow: bool) -> str:
    return "allow" if allow else "deny"


def registry_story(secret: str) -> tuple[int, str, str]:
    """A user registers, publishes, is read by organisations, and is erased.

    Returns the number of surprises, the user's id and the allowed disclosure's id."""
    surprises = 0
    org, abroad = "ph-department-of-trade-and-industry", "th-board-of-trade"
    purpose = "member_organisation_sharing"

    def as_(role: Role, **claims: str) -> Client:
        return Client(token=mint_token(secret, role=role, **claims))  # type: ignore[arg-type]

    def attempt(send: Callable[[], T], line: str, *, refused: int | None = None) -> T | ApiError:
        """Send, and say how it went; a refusal other than ``refused`` is a surprise."""
        nonlocal surprises
        try:
            result = send()
        except ApiError as exc:
            surprises += exc.status != refused
            mark = "" if exc.status == refused else f"  (expected {refused or 'success'}!)"
            say(f"  {line}: {exc.status}{mark}")
            return exc
        surprises += refused is not None
        say(f"  {line}: ok" + (f"  (expected {refused}!)" if refused else ""))
        return result

    tag = uuid.uuid4().hex[:6]
    registration = RegistrationIn.model_validate(
        {
            "full_name": "Maria Santos",
            "email_address": f"maria-{tag}@example.ph",
            "country_of_residence": "PH",
            "company_name": "Santos Export Trading",
            "company_country": "PH",
            "company_registration_number": f"SEC-{tag}",
            "business_support_network": "Philippine Chamber of Commerce",
            "referral_source": "a trade fair",
            "phone_number": "02 8123 4567",
        }
    )
    with as_(Role.PLATFORM) as platform:
        user = platform.send(registry.register(registration))
    uid = user.user_id
    say(f"  the platform registers Maria Santos (PH): user {uid}")
    say(f"    phone stored as {user.phone_number}")
    profile = ProfileIn.model_validate(
        {
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
    )
    me, anyone, admin = as_(Role.SUBJECT, user_id=uid), Client(), as_(Role.ADMIN)
    reader, foreign = as_(Role.MEMBER_ORG, org_id=org), as_(Role.MEMBER_ORG, org_id=abroad)
    with me, anyone, admin, reader, foreign:
        attempt(
            lambda: me.send(registry.put_profile(uid, profile)),
            "Maria fills in her service-provider profile",
        )
        refused = attempt(
            lambda: me.send(registry.publish_profile(uid)),
            "she publishes it without consent to public visibility",
            refused=409,
        )
        if isinstance(refused, ApiError):
            say(f"    {refused.message}")

        def consent_to(purpose: str, organisation: str | None = None) -> Receipt:
            asked = {"user_id": uid, "purpose": purpose, "notice_version": "2024-01-11"}
            if organisation:
                asked["organisation"] = organisation
            return me.send(consent.grant_consent(ConsentGrantRequest.model_validate(asked)))

        visibility = consent_to("public_profile_visibility")
        published = attempt(
            lambda: me.send(registry.publish_profile(uid)),
            "she consents to public visibility and publishes",
        )
        profile_id = str(published.profile_id) if not isinstance(published, ApiError) else ""
        public = attempt(
            lambda: anyone.send(registry.public_profile(profile_id)),
            "anyone, without logging in, sees the profile",
        )
        if not isinstance(public, ApiError):
            say(f"    shown: {', '.join(sorted(public.model_dump(exclude_none=True)))}")

        def read(client: Client, fields: list[str]) -> DisclosureOut:
            return client.send(registry.read_data(uid, purpose=purpose, fields=fields))

        denied = attempt(
            lambda: read(reader, ["email_address"]),
            f"{org} asks for her email without consent",
            refused=403,
        )
        if isinstance(denied, ApiError):
            say(f"    {denied.message} (recorded as {denied.detail.get('disclosure_id')})")
        say("  an administrator grants both organisations 30 days; Maria consents to both:")
        for grantee in (org, abroad):
            privacyctl(
                admin.token or "", "grant", "add", grantee, "--category", "email_address",
                "--category", "full_name", "--days", "30", "-q",
            )  # fmt: skip
            consent_to(purpose, grantee)
        read_ok = attempt(
            lambda: read(reader, ["email_address", "full_name"]),
            f"with her consent and a 30-day grant, {org} reads it",
        )
        disclosure_id = ""
        if not isinstance(read_ok, ApiError):
            disclosure_id = str(read_ok.disclosure_id)
            say(f"    data {read_ok.data}, data.accessed {disclosure_id}")
        border = attempt(
            lambda: read(foreign, ["email_address"]),
            f"{abroad}, in Thailand, asks too",
            refused=403,
        )
        if isinstance(border, ApiError):
            say(f"    {border.message}")

        me.send(consent.withdraw_consent(visibility.consent_id, WithdrawRequest()))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                anyone.send(registry.public_profile(profile_id))
            except NotFound:
                break
            time.sleep(0.1)
        attempt(
            lambda: anyone.send(registry.public_profile(profile_id)),
            "she withdraws consent to public visibility; the profile is gone",
            refused=404,
        )
        export = attempt(
            lambda: me.send(registry.export(uid)), "she exports everything the registry holds"
        )
        if not isinstance(export, ApiError):
            say(
                f"    {len(export.user.model_dump())} registration fields, profile, "
                f"{len(export.rights_requests)} rights requests"
            )
        attempt(lambda: me.send(registry.erase(uid)), "she erases her data")
        attempt(
            lambda: admin.send(registry.access(uid)),
            "afterwards even an admin finds only that she was erased",
            refused=410,
        )
    return surprises, uid, disclosure_id


def audit_story(secret: str, uid: str, disclosure_id: str) -> int:
    """Find the disclosures in the audit log, and prove one is in the signed tree."""
    token = mint_token(secret, role=Role.AUDITOR)
    deadline = time.monotonic() + 15
    with Client(token=token) as auditor:
        while True:
            items = auditor.send(audit.disclosures(audit.Filters(subject=uid), limit=100)).items
            mine = [i for i in items if i.event_id == disclosure_id]
            if mine or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        if not mine:
            say("  the disclosure did not reach the audit log in 15 s (expected it!)")
            return 1
        for item in items:
            say(
                f"  #{item.seq:<6} {item.decision:<5} {item.organisation_id:<36}"
                f" {','.join(item.fields)}  ({item.decision_reason})"
            )
        seq = mine[0].seq
        while auditor.send(audit.latest_tree_head()).tree_size <= seq:
            if time.monotonic() > deadline + 5:
                break
            time.sleep(0.3)
    say("  an auditor asks the same of the log, and checks its proof on their own machine:")
    listed, _ = privacyctl(token, "trail", "--subject", uid)
    proved, _ = privacyctl(token, "log", "proof", str(seq))
    return int(listed != 0 or proved != 0)


def recipients_story(secret: str, uid: str) -> int:
    """After her erasure, the organisation that received her data is asked to erase it too."""
    org, abroad = "ph-department-of-trade-and-industry", "th-board-of-trade"
    auditor = Client(token=mint_token(secret, role=Role.AUDITOR))
    member = Client(token=mint_token(secret, role=Role.MEMBER_ORG, org_id=org))
    subject = Client(token=mint_token(secret, role=Role.SUBJECT, user_id=uid))
    with auditor, member, subject:
        return _recipients(auditor, member, subject, uid, org, abroad)


def _recipients(
    auditor: Client, member: Client, subject: Client, uid: str, org: str, abroad: str
) -> int:
    say("  the audit log knows who received her data, and who was refused; it asks only the")
    say("  organisations that received it (2 s after, and again 10 s after, in this demo)")
    deadline = time.monotonic() + 45
    requests: list[RecipientRequestOut] = []
    while not requests and time.monotonic() < deadline:
        requests = list(auditor.pages(audit.recipient_requests(user_id=uid)))
        time.sleep(0.5)
    if not requests:
        say("  no request was made in 45 s (expected one!)")
        return 1
    for item in requests:
        say(
            f"  request to {item.organisation}: {item.action.value} "
            f"{', '.join(item.data_categories)} (answer by {item.respond_by:%Y-%m-%d})"
        )
    failures = int([r.organisation for r in requests] != [org])
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
    try:
        answer = member.send(audit.confirm_recipient_request(str(requests[0].request_id)))
        say(f"  {org} confirms it erased her data: {answer.state.value}")
    except ApiError as exc:
        say(f"  {org} confirms it erased her data: {exc} (expected it to be recorded!)")
        failures += 1
    report = subject.send(audit.subject_report(uid, limit=100))
    for notice in report.recipient_notices or []:
        say(
            f"  her report: {notice.organisation} told {notice.told_at:%Y-%m-%d %H:%M:%S}, "
            f"{notice.delivery}, {notice.state.value}"
        )
    return failures


def breach_story(secret: str) -> int:
    """Three people affected by a breach: each told once by email, then the record and closing."""
    platform = Client(token=mint_token(secret, role=Role.PLATFORM))
    security = Client(token=mint_token(secret, role=Role.SECURITY, sub="sec-lead"))
    with platform, security:
        return _breach(platform, security, secret)


def _breach(platform: Client, security: Client, secret: str) -> int:
    tag = uuid.uuid4().hex[:6]
    people = [("Somchai Dee", "TH", "th"), ("Siti Rahma", "ID", "id"), ("Ana Cruz", "PH", "en")]
    ids = []
    for name, country, language in people:
        first = name.split()[0].lower()
        registration = RegistrationIn.model_validate(
            {
                "full_name": name,
                "email_address": f"{first}-{tag}@example.org",
                "country_of_residence": country,
                "company_name": f"{name} Trading",
                "company_country": country,
                "company_registration_number": f"REG-{first}-{tag}",
                "business_support_network": "the national SME agency",
                "referral_source": "a newsletter",
                "language": language,
            }
        )
        try:
            ids.append(platform.send(registry.register(registration)).user_id)
        except ApiError as exc:
            say(f"  registering {name}: {exc} (expected it to be registered!)")
            return 1
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
        counts = security.send(breach.get(bid)).counts
        if counts.notified >= len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    say(
        f"  notices: {counts.affected} affected, {counts.delivered} accepted by the mail"
        f" server (accepted, not read), {counts.failed} failed, {counts.pending} pending"
    )
    failures = int(counts.notified < len(ids)) + int(not same)
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
        failures += consent_story(secret)

        chapter("4. The registry: a user's data, disclosed only as she allows, and erased")
        surprises, uid, disclosure_id = registry_story(secret)
        failures += surprises

        chapter("5. The audit log: every disclosure and refusal, provably in a signed tree")
        failures += audit_story(secret, uid, disclosure_id)

        chapter("6. Her erasure reaches the organisations that received her data (Art. 19)")
        failures += recipients_story(secret, uid)

        chapter("7. A breach: everyone affected told once by email, within the 72 hours")
        failures += breach_story(secret)

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
