"""The five services, started once for the security suites, with data seeded through them.

Each service is the real app (``build_app``), served by uvicorn on a free local port
against the real Kafka and PostgreSQL, with a schema of its own. They all run in one
background thread with an event loop of its own, so the suites' plain synchronous
clients (schemathesis' ``requests`` and ``httpx.Client``) can call them without blocking
the loop that serves them. The registry asks this stack's consent service over HTTP.
"""

import asyncio
import importlib
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from devtools.notifier import SmtpServer
from services.consent.repository import NOTICE_VERSION
from shared.auth import Role, mint_token
from shared.db import create_engine
from shared.events import DataAccessed, DataAccessedPayload, Decision, LegalBasis
from shared.producers import create_producer
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.services.registry.conftest import PROFILE, registration, serving
from tests.support import DATABASE_URL, KAFKA, drop_topics, topic_prefix, unique

SERVICES = ("registry", "consent", "audit", "breach", "notifier", "detection")
PH_ORG, TH_ORG = "ph-department-of-trade-and-industry", "th-board-of-trade"
SHARING, VISIBILITY = "member_organisation_sharing", "public_profile_visibility"

T = TypeVar("T")


def token(role: Role, **claims: str) -> dict[str, str]:
    """The Authorization header of a development token for ``role``."""
    minted = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {minted}"}


def subject_token(user_id: str) -> dict[str, str]:
    """A data subject's token."""
    return token(Role.SUBJECT, user_id=user_id)


def org_token(slug: str) -> dict[str, str]:
    """A member organisation's token, with an analyst of it as the actor."""
    return token(Role.MEMBER_ORG, org_id=slug, sub=f"analyst@{slug}")


@dataclass(frozen=True)
class Persona:
    """A registered user with a published profile and a consent to sharing."""

    user_id: str
    profile_id: str
    consent_id: str
    receipt_id: str


@dataclass
class Seed:
    """What the stack holds before the suites run, by the ids the suites need."""

    user_id: str
    other_user_id: str
    profile_id: str
    consent_id: str
    receipt_id: str
    fuzzed: Persona
    """The fuzzer's own user: it may restrict, rectify or unpublish them."""
    audit_seqs: dict[str, list[int]] = field(default_factory=dict)
    """Entry positions in the audit log, by organisation."""


@dataclass
class Stack:
    """The running services: their base URLs, apps and schemas, and the seeded data."""

    urls: dict[str, str]
    apps: dict[str, FastAPI]
    schemas: dict[str, str]
    prefix: str
    """Before every topic of this stack's: it reads only the events it makes."""
    seed: Seed | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def client(self, service: str) -> httpx.Client:
        """A plain client of ``service``, bounded in time."""
        return httpx.Client(base_url=self.urls[service], timeout=30)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        """Run ``coro`` on the stack's loop and wait for it."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)


def build(service: str, schema: str, **settings: Any) -> FastAPI:
    """``service``'s app, as its ``main`` builds it, on ``schema``."""
    main = importlib.import_module(f"services.{service}.main")
    config = importlib.import_module(f"services.{service}.config")
    settings_cls = getattr(config, f"{service.capitalize()}Settings")
    app: FastAPI = main.build_app(settings_cls(db_schema=schema, log_json=True, **settings))
    return app


async def _start(stack: Stack, exits: AsyncExitStack) -> None:
    # Consent first: the registry is told its URL.
    extra: dict[str, dict[str, Any]] = {
        "audit": {"tree_head_seconds": 0.2, "check_seconds": 0.5, "check_grace_seconds": 0.5},
        "registry": {"visibility_sweep_seconds": 5.0},
        "notifier": {"smtp_host": "127.0.0.1", "smtp_port": await _mail_server(exits)},
    }
    for service in ("consent", "registry", "audit", "breach", "notifier", "detection"):
        # Warnings only: a log line per consumed event costs the suites a third of their time.
        settings = {"log_level": "WARNING", "topic_prefix": stack.prefix, **extra.get(service, {})}
        if service == "registry":
            settings["consent_url"] = stack.urls["consent"]
        app = build(service, stack.schemas[service], **settings)
        stack.apps[service] = app
        stack.urls[service] = await exits.enter_async_context(serving(app))


async def _mail_server(exits: AsyncExitStack) -> int:
    """A real SMTP server for the notifier, as a deployed stack has: without one, its
    /readyz rightly answers 503 (the mail server is unreachable)."""
    mail = SmtpServer(Path(tempfile.mkdtemp(prefix="security-smtp-")))
    await mail.start()
    exits.push_async_callback(mail.stop)
    return mail.port


async def _drop(schemas: list[str]) -> None:
    engine = create_engine(DATABASE_URL, "public", pool_size=1)
    try:
        async with engine.begin() as conn:
            for name in schemas:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        await engine.dispose()


def start() -> tuple[Stack, Callable[[], None]]:
    """Start the five services in a thread of their own; return them and how to stop them."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="security-stack", daemon=True)
    thread.start()
    stack = Stack(
        urls={},
        apps={},
        schemas={s: unique(f"t_sec_{s}") for s in SERVICES},
        prefix=topic_prefix("t_sec"),
        _loop=loop,
    )
    exits = AsyncExitStack()

    def stop() -> None:
        try:
            stack.run(exits.aclose(), timeout=120)
        finally:
            stack.run(_drop(list(stack.schemas.values())), timeout=60)
            stack.run(drop_topics(stack.prefix), timeout=60)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)

    try:
        stack.run(_start(stack, exits), timeout=180)
    except BaseException:
        stop()
        raise
    return stack, stop


# --- Seeding, through the services' own APIs (and Kafka, for the audit log) -----------

PLATFORM, ADMIN, AUDITOR = token(Role.PLATFORM), token(Role.ADMIN), token(Role.AUDITOR)


def register(stack: Stack, **overrides: Any) -> str:
    """Register a user through the registry; return its id."""
    with stack.client("registry") as registry:
        response = registry.post("/users", json=registration(**overrides), headers=PLATFORM)
    assert response.status_code == 201, response.text
    user_id: str = response.json()["user_id"]
    return user_id


def consent(stack: Stack, user_id: str, purpose: str, **scope: Any) -> dict[str, Any]:
    """Grant a consent as the user; return its receipt."""
    body = {"user_id": user_id, "purpose": purpose, "notice_version": NOTICE_VERSION, **scope}
    with stack.client("consent") as client:
        response = client.post("/consents", json=body, headers=subject_token(user_id))
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


def disclosure(subject: str, organisation: str) -> DataAccessed:
    """A disclosure event as the registry publishes it."""
    return DataAccessed.create(
        producer="registry",
        subject_id=subject,
        payload=DataAccessedPayload(
            organisation_id=organisation,
            organisation_country=organisation[:2].upper(),
            actor=f"analyst@{organisation}",
            subject_id=subject,
            subject_country="PH",
            fields=["email_address"],
            purpose=SHARING,
            legal_basis=LegalBasis.CONSENT,
            channel="registry_api",
            accessed_at=datetime.now(UTC),
            decision=Decision.ALLOW,
            consent_id=None,
            consent_version=None,
        ),
    )


async def publish(prefix: str, *evs: DataAccessed) -> None:
    """Put ``evs`` on their topic (named with the stack's ``prefix``), as any platform
    service may."""
    producer = create_producer(KAFKA, linger_ms=5)
    await producer.start()
    try:
        for event in evs:
            await producer.send(
                f"{prefix}{event.topic()}", value=event.to_bytes(), key=event.subject_id.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60) -> T:
    """Poll ``probe`` until it returns something; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def audit_entries(stack: Stack, subjects: set[str]) -> dict[str, list[int]] | None:
    """The log positions of the entries about ``subjects``, by organisation, once all are in."""
    found: dict[str, list[int]] = {}
    with stack.client("audit") as audit:
        for user_id in sorted(subjects):
            response = audit.get(f"/subjects/{user_id}/report", headers=AUDITOR)
            items = response.json()["items"] if response.status_code == 200 else []
            if not items:
                return None
            for item in items:
                found.setdefault(item["organisation_id"], []).append(int(item["seq"]))
    return found


def persona(stack: Stack) -> Persona:
    """Register a user, publish their profile, and let them consent to sharing."""
    user_id = register(stack)
    with stack.client("registry") as registry:
        mine = subject_token(user_id)
        response = registry.put(f"/users/{user_id}/profile", json=PROFILE, headers=mine)
        assert response.status_code == 201, response.text
        profile_id = str(response.json()["profile_id"])
        consent(stack, user_id, VISIBILITY)
        published = registry.post(f"/users/{user_id}/profile/publish", headers=mine)
        assert published.status_code == 200, published.text
    sharing = consent(stack, user_id, SHARING)
    return Persona(
        user_id=user_id,
        profile_id=profile_id,
        consent_id=str(sharing["consent_id"]),
        receipt_id=str(sharing["receipt_id"]),
    )


def seed(stack: Stack) -> Seed:
    """Users, published profiles, consents, grants and audit entries of two organisations."""
    me, fuzzed = persona(stack), persona(stack)
    user_id = me.user_id
    other_user_id = register(stack, full_name="Somchai Chaiyaporn", country_of_residence="TH")
    consent(stack, other_user_id, SHARING, organisation=TH_ORG)
    now = datetime.now(UTC)
    with stack.client("consent") as client:
        for organisation in (PH_ORG, TH_ORG):
            response = client.post(
                "/grants",
                json={
                    "organisation": organisation,
                    "data_categories": ["full_name", "email_address"],
                    "valid_from": (now - timedelta(days=1)).isoformat(),
                    "valid_until": (now + timedelta(days=30)).isoformat(),
                },
                headers=ADMIN,
            )
            assert response.status_code == 201, response.text
    # One disclosure through the real read path (registry -> consent -> Kafka -> audit),
    # and a few published directly, so both organisations have entries about both users.
    with stack.client("registry") as registry:
        read = registry.get(
            f"/users/{user_id}/data",
            params={"purpose": SHARING, "fields": "full_name,email_address"},
            headers=org_token(PH_ORG),
        )
        assert read.status_code in (200, 403), read.text
    direct = [disclosure(s, o) for s in (user_id, other_user_id) for o in (PH_ORG, TH_ORG)]
    stack.run(publish(stack.prefix, *direct))
    subjects = {user_id, other_user_id}

    def all_in() -> dict[str, list[int]] | None:
        found = audit_entries(stack, subjects)
        if found is None or sum(len(v) for v in found.values()) < len(direct) + 1:
            return None
        return found

    seqs = wait_for("the seeded disclosures in the audit log", all_in, timeout=90)

    def head_covers() -> bool | None:
        with stack.client("audit") as audit:
            response = audit.get("/tree-heads/latest", headers=AUDITOR)
        size = response.json().get("tree_size", 0) if response.status_code == 200 else 0
        return True if size > max(max(v) for v in seqs.values()) else None

    wait_for("a signed tree head covering the seeded entries", head_covers, timeout=60)
    return Seed(
        user_id=user_id,
        other_user_id=other_user_id,
        profile_id=me.profile_id,
        consent_id=me.consent_id,
        receipt_id=me.receipt_id,
        fuzzed=fuzzed,
        audit_seqs=seqs,
    )
