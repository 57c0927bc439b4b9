"""The demo story: run by ``make demo`` once the stack is up.

It walks through what the running stack can do today, against the real services.
Each later feature adds a chapter here.
"""

import sys

import httpx

from shared.auth import Role, mint_token
from shared.settings import ServiceSettings

SERVICES = {"registry": 8001, "consent": 8002, "audit": 8003, "breach": 8004, "notifier": 8005}


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def chapter(title: str) -> None:
    say()
    say(f"== {title}")


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

    chapter("3. Every call needs a bearer token naming a role")
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
