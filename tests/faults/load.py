"""The fault suite's steady mixed load, and what is checked after each fault.

The load: workers that each, in turn, register a user (registry), give consent on one
consent replica, have an organisation read the user's data (a disclosure, allowed), and
for every third user withdraw on the other replica and read again (a disclosure,
refused); plus, in each round, a breach of a few thousand people (their registrations
published as the registry publishes them) declared just before the fault.

The checks, after each fault: no service left not-ready; every disclosure on Kafka once
and in the audit log exactly once, the log gapless and its root and signature verified
against the newest signed tree head; every consent change applied by both consent
replicas; every affected person told once, but for the notices the notifier itself marks
uncertain; no HTTP call of the load failed.
"""

import asyncio
import base64
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from client import Client, ServiceUrls, audit
from client import log as merkle
from services.consent.repository import NOTICE_VERSION
from shared.auth import Role, mint_token
from shared.db import create_engine
from shared.events import DATA_ACCESSED, DataAccessed
from shared.producers import create_producer
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.faults.stack import Stack
from tests.services.notifier.support import registered
from tests.support import DATABASE_URL, wait_until

ORG = "ph-department-of-trade-and-industry"
SHARING = "member_organisation_sharing"


def bearer(role: Role, **claims: str) -> dict[str, str]:
    minted = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {minted}"}


PLATFORM, ADMIN = bearer(Role.PLATFORM), bearer(Role.ADMIN)
SECURITY = bearer(Role.SECURITY, sub="sec-lead@platform")
READER = bearer(Role.MEMBER_ORG, org_id=ORG, sub=f"analyst@{ORG}")
AUDITOR_TOKEN = mint_token(DEVELOPMENT_JWT_SECRET, role=Role.AUDITOR)


@dataclass
class Load:
    """What the load did, cumulated over the rounds: the expectations of the checks."""

    stack: Stack
    emails: dict[str, str] = field(default_factory=dict)
    """user id -> address, for every user the load registered."""
    consents: dict[str, bool] = field(default_factory=dict)
    """user id -> whether its consent stands (False: withdrawn)."""
    changes: int = 0
    reads: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def _call(
        self, client: httpx.AsyncClient, method: str, url: str, ok: tuple[int, ...], **kw: Any
    ) -> httpx.Response | None:
        path = url.split("/", 3)[-1].split("?")[0]
        try:
            answer = await client.request(method, url, **kw)
        except httpx.TransportError as exc:
            self.failures[f"{method} /{path}: {type(exc).__name__}"] += 1
            return None
        if answer.status_code not in ok:
            self.failures[f"{method} /{path}: {answer.status_code} {answer.text[:120]}"] += 1
            return None
        return answer

    async def grant(self, client: httpx.AsyncClient) -> None:
        now = datetime.now(UTC)
        body = {
            "organisation": ORG,
            "data_categories": ["full_name", "email_address"],
            "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_until": (now + timedelta(days=30)).isoformat(),
        }
        url = f"{self.stack.url('consent')}/grants"
        assert await self._call(client, "POST", url, (201,), json=body, headers=ADMIN)

    async def _read(self, client: httpx.AsyncClient, user_id: str, ok: tuple[int, ...]) -> bool:
        answer = await self._call(
            client,
            "GET",
            f"{self.stack.url('registry')}/users/{user_id}/data",
            ok,
            params={"purpose": SHARING, "fields": "full_name,email_address"},
            headers=READER,
        )
        self.reads += 1  # allowed or refused, a disclosure decision goes on record
        return answer is not None

    async def _one_user(self, client: httpx.AsyncClient, n: int) -> None:
        email = f"flt-{uuid.uuid4().hex[:12]}@example.ph"
        body = {
            "full_name": "Maria Santos",
            "email_address": email,
            "country_of_residence": "PH",
            "company_name": "Santos Export Trading",
            "company_country": "PH",
            "company_registration_number": f"SEC-{uuid.uuid4().hex[:10]}",
            "business_support_network": "Philippine Chamber of Commerce",
            "referral_source": "a trade fair",
        }
        made = await self._call(
            client,
            "POST",
            f"{self.stack.url('registry')}/users",
            (201,),
            json=body,
            headers=PLATFORM,
        )
        if made is None:
            return
        user_id = str(made.json()["user_id"])
        self.emails[user_id] = email
        mine = bearer(Role.SUBJECT, user_id=user_id)
        given = await self._call(
            client,
            "POST",
            f"{self.stack.url('consent', n % 2)}/consents",
            (201,),
            json={"user_id": user_id, "purpose": SHARING, "notice_version": NOTICE_VERSION},
            headers=mine,
        )
        if given is None:
            return
        self.consents[user_id] = True
        self.changes += 1
        # The registry asks consent replica 0: a consent replica 1 took reaches it through
        # Kafka a moment later (a broker down: longer), and until then it refuses.
        await self._read(client, user_id, (200,) if n % 2 == 0 else (200, 403))
        if n % 3 == 0:
            consent_id = given.json()["consent_id"]
            withdrawn = await self._call(
                client,
                "POST",
                f"{self.stack.url('consent', (n + 1) % 2)}/consents/{consent_id}/withdraw",
                (200,),
                json={},
                headers=mine,
            )
            if withdrawn is None:
                return
            self.consents[user_id] = False
            self.changes += 1
            # The registry asks consent replica 0, which may not have the withdrawal yet
            # when replica 1 took it (a moment later it has): then either answer is right.
            await self._read(client, user_id, (403,) if (n + 1) % 2 == 0 else (200, 403))

    async def run(self, workers: int = 3) -> None:
        """Until ``stopping`` is set."""
        counter = iter(range(10**9))

        async def worker() -> None:
            # A connection each call: a kept-alive one the server closes for idleness just
            # as a slow load reuses it fails the call (ReadError) with nothing at fault.
            fresh = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(timeout=30, limits=fresh) as client:
                while not self.stopping.is_set():
                    await self._one_user(client, next(counter))

        await asyncio.gather(*(worker() for _ in range(workers)))


async def seed_people(stack: Stack, count: int) -> dict[str, str]:
    """``count`` people registered as the registry announces them; user id -> address."""
    tag = uuid.uuid4().hex[:8]
    people = {f"flt-{tag}-{i}": f"p{i}.{tag}@example.org" for i in range(count)}
    producer = create_producer(stack.cluster.bootstrap, linger_ms=20)
    await producer.start()
    try:
        for user_id, address in people.items():
            event = registered(user_id, address)
            await producer.send(f"{stack.prefix}{event.topic()}", event.to_bytes(), key=event.key())
        await producer.flush()
    finally:
        await producer.stop()
    return people


async def declare(client: httpx.AsyncClient, stack: Stack, user_ids: list[str]) -> str:
    now = datetime.now(UTC)
    body = {
        "title": "Exported contact list left on a public bucket",
        "what_happened": "A CSV export of member contacts was readable by anyone with the link.",
        "kinds": ["confidentiality"],
        "detected_at": (now - timedelta(hours=1)).isoformat(),
        "data_categories": ["email_address", "full_name"],
        "likely_consequences": "Phishing emails that quote your name.",
        "measures_taken": "The bucket was closed and the link revoked; access logs reviewed.",
        "what_you_can_do": "Be wary of emails asking for your password; we never ask.",
        "contact_point": "Data Protection Officer, dpo@example.org, +63 2 8000 0000",
        "scope": [{"kind": "users", "user_ids": user_ids}],
    }
    answer = await client.post(f"{stack.url('breach')}/breaches", json=body, headers=SECURITY)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["breach_id"])


# --- the checks ---------------------------------------------------------------------


async def disclosures_on_kafka(stack: Stack, subjects: set[str], reads: int) -> Counter[str]:
    """The registry's disclosures of ``subjects`` on the run's topic (read_committed), by
    event id, once there are ``reads`` of them and a second more (a late duplicate)."""
    consumer = AIOKafkaConsumer(
        f"{stack.prefix}{DATA_ACCESSED}",
        bootstrap_servers=stack.cluster.bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    try:
        settle: float | None = None
        while settle is None or loop.time() < settle:
            if loop.time() > deadline:
                raise TimeoutError(f"{sum(found.values())} of {reads} disclosures on Kafka")
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                for record in batch:
                    event = DataAccessed.model_validate_json(record.value or b"")
                    if event.subject_id in subjects and event.producer == "registry":
                        found[str(event.event_id)] += 1
            if settle is None and sum(found.values()) >= reads:
                settle = loop.time() + 1.0
        return found
    finally:
        await consumer.stop()


async def audit_rows(stack: Stack) -> dict[str, Any]:
    engine = create_engine(DATABASE_URL, stack.schemas["audit"], pool_size=1)
    try:
        async with engine.connect() as conn:
            size, last, distinct = (
                await conn.execute(
                    text("SELECT count(*), max(seq), count(DISTINCT event_id) FROM entries")
                )
            ).one()
            ids = (await conn.execute(text("SELECT event_id::text FROM entries"))).scalars()
            head = (await conn.execute(text("SELECT max(tree_size) FROM tree_heads"))).scalar()
            logged = Counter(ids)
    finally:
        await engine.dispose()
    return {
        "size": int(size),
        "last": -1 if last is None else int(last),
        "distinct": int(distinct),
        "ids": logged,
        "head": int(head or 0),
    }


def verify_log(stack: Stack) -> tuple[int, bool, bool]:
    """Re-hash the whole log as ``privacyctl log verify`` does: (size, root, signature)."""
    urls = ServiceUrls({"audit": stack.url("audit")})
    with Client(urls, token=AUDITOR_TOKEN) as api:
        head = api.send(audit.latest_tree_head())
        key = api.send(audit.public_key())
        builder = merkle.RootBuilder()
        for leaf in merkle.leaves(api, head.tree_size):
            builder.add(leaf)
        matches = builder.size == head.tree_size and builder.root() == base64.b64decode(
            head.root_hash
        )
        return head.tree_size, matches, merkle.head_signed(head, key)


async def decisions(stack: Stack, expected: dict[str, bool]) -> dict[int, int]:
    """Per consent replica, how many users' decisions differ from ``expected``."""
    wrong: dict[int, int] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for index in range(len(stack.replicas["consent"])):
            url = f"{stack.url('consent', index)}/decisions"
            wrong[index] = 0
            for user_id, allowed in expected.items():
                query = {
                    "user_id": user_id,
                    "organisation": ORG,
                    "purpose": SHARING,
                    "data_categories": ["email_address"],
                }
                answer = await client.post(url, json=query, headers=PLATFORM)
                assert answer.status_code == 200, answer.text
                wrong[index] += bool(answer.json()["allow"]) != allowed
    return wrong


async def notices(stack: Stack, breach_id: str, people: dict[str, str]) -> dict[str, int]:
    """Once the breach counts everyone notified: how many got one email, none, several,
    and how many notices the notifier marked uncertain."""
    async with httpx.AsyncClient(timeout=30) as client:

        async def counts() -> dict[str, Any]:
            answer = await client.get(
                f"{stack.url('breach')}/breaches/{breach_id}", headers=SECURITY
            )
            assert answer.status_code == 200, answer.text
            return dict(answer.json()["counts"])

        async def everyone() -> bool:
            return (await counts())["notified"] >= len(people)

        await wait_until(everyone, 180, f"the breach counting {len(people)} people notified")
        final = await counts()
    await asyncio.sleep(1)  # a late second copy would show
    addresses = set(people.values())
    copies = Counter(
        str(m["X-Envelope-To"]) for m in stack.smtp.messages() if m["X-Envelope-To"] in addresses
    )
    engine = create_engine(DATABASE_URL, stack.schemas["notifier"], pool_size=1)
    try:
        async with engine.connect() as conn:
            uncertain = set(
                (
                    await conn.execute(
                        text("SELECT user_id FROM deliveries WHERE breach_id = :b AND uncertain"),
                        {"b": breach_id},
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()
    twice = {a for a, n in copies.items() if n > 1}
    twice_certain = {a for a in twice if a not in {people[u] for u in uncertain if u in people}}
    return {
        "affected": int(final["affected"]),
        "notified": int(final["notified"]),
        "emailed_once": sum(1 for n in copies.values() if n == 1),
        "not_emailed": len(addresses - set(copies)),
        "emailed_twice_uncertain": len(twice) - len(twice_certain),
        "emailed_twice_not_uncertain": len(twice_certain),
        "uncertain": len(uncertain),
    }
