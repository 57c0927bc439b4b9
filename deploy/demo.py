"""The demo story: run by ``make demo`` once the stack is up.

It walks through what the running stack can do today, against the real services.
Each later feature adds a chapter here.
"""

import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from shared.auth import Role, mint_token
from shared.settings import ServiceSettings

SERVICES = {"registry": 8001, "consent": 8002, "audit": 8003, "breach": 8004, "notifier": 8005}


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


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

    chapter("4. Every call needs a bearer token naming a role")
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
