"""Two replicas of every service, one broker and one database, during a stream of events.

The stream: users registered and consenting through alternate replicas, organisations
reading their data through alternate registry replicas, disclosures published straight to
Kafka, and a breach naming the users. Halfway, the registry replica whose relay is active
and one audit replica are killed with SIGKILL. Then: every disclosure is on Kafka exactly
once (read_committed), the audit log holds each exactly once and is gapless, its signed
head covers it, and each user got exactly one breach notice by mail.
"""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import cycle
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.consent.repository import NOTICE_VERSION
from shared.auth import Role, mint_token
from shared.db import create_engine
from shared.events import DATA_ACCESSED, DataAccessed, DataAccessedPayload, Decision, LegalBasis
from shared.producers import create_producer
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.replicas import stack as replicas_stack
from tests.replicas.stack import Replicas, read_from
from tests.support import DATABASE_URL, KAFKA, end_offsets, unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ORG = "ph-department-of-trade-and-industry"
SHARING = "member_organisation_sharing"
USERS = 12
DIRECT = 300
PRODUCER = "replica-test"


def token(role: Role, **claims: str) -> dict[str, str]:
    minted = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {minted}"}


PLATFORM, ADMIN, AUDITOR = token(Role.PLATFORM), token(Role.ADMIN), token(Role.AUDITOR)
SECURITY = token(Role.SECURITY, sub="sec-lead@platform")
READER = token(Role.MEMBER_ORG, org_id=ORG, sub=f"analyst@{ORG}")


@pytest.fixture(scope="module")
async def replicas() -> AsyncIterator[Replicas]:
    """Ten processes: two of each service."""
    stack = await replicas_stack.start()
    try:
        yield stack
    finally:
        await replicas_stack.stop(stack)


async def register(client: httpx.AsyncClient, url: str) -> tuple[str, str]:
    email = f"{unique('rep')}@example.ph"
    body = {
        "full_name": "Maria Santos",
        "email_address": email,
        "country_of_residence": "PH",
        "company_name": "Santos Export Trading",
        "company_country": "PH",
        "company_registration_number": f"SEC-{unique('cr')}",
        "business_support_network": "Philippine Chamber of Commerce",
        "referral_source": "a trade fair",
    }
    response = await client.post(f"{url}/users", json=body, headers=PLATFORM)
    assert response.status_code == 201, response.text
    return str(response.json()["user_id"]), email


async def consent(client: httpx.AsyncClient, url: str, user_id: str) -> str:
    body = {"user_id": user_id, "purpose": SHARING, "notice_version": NOTICE_VERSION}
    mine = token(Role.SUBJECT, user_id=user_id)
    response = await client.post(f"{url}/consents", json=body, headers=mine)
    assert response.status_code == 201, response.text
    return str(response.json()["consent_id"])


async def grant(client: httpx.AsyncClient, url: str) -> None:
    now = datetime.now(UTC)
    body = {
        "organisation": ORG,
        "data_categories": ["full_name", "email_address"],
        "valid_from": (now - timedelta(days=1)).isoformat(),
        "valid_until": (now + timedelta(days=30)).isoformat(),
    }
    response = await client.post(f"{url}/grants", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text


async def read(client: httpx.AsyncClient, url: str, user_id: str) -> int:
    """One organisation read; allowed or refused, it is a disclosure decision on record."""
    response = await client.get(
        f"{url}/users/{user_id}/data",
        params={"purpose": SHARING, "fields": "full_name,email_address"},
        headers=READER,
    )
    assert response.status_code in (200, 403), response.text
    return response.status_code


def disclosure(subject: str) -> DataAccessed:
    return DataAccessed.create(
        producer=PRODUCER,
        subject_id=subject,
        payload=DataAccessedPayload(
            organisation_id=ORG,
            organisation_country="PH",
            actor=f"analyst@{ORG}",
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


async def publish(prefix: str, events: list[DataAccessed]) -> None:
    """Disclosures straight onto Kafka, a few at a time, while the replicas come and go."""
    producer = create_producer(KAFKA, linger_ms=5)
    await producer.start()
    try:
        for start in range(0, len(events), 20):
            for event in events[start : start + 20]:
                await producer.send(
                    f"{prefix}{event.topic()}",
                    value=event.to_bytes(),
                    key=event.subject_id.encode(),
                )
            await producer.flush()
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()


def declaration(user_ids: list[str]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
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


async def active_relay_pid(schema: str) -> int | None:
    """The pid of the process whose relay holds ``schema``'s lock (see shared/relay.py)."""
    engine = create_engine(DATABASE_URL, "public", pool_size=1)
    try:
        async with engine.connect() as conn:
            name = (
                await conn.execute(
                    text(
                        """
                        SELECT a.application_name FROM pg_locks l
                        JOIN pg_stat_activity a ON a.pid = l.pid
                        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                          AND l.classid::bigint
                              = (hashtextextended('outbox-relay.' || :s, 0) >> 32) & 4294967295
                          AND l.objid::bigint
                              = hashtextextended('outbox-relay.' || :s, 0) & 4294967295
                        """
                    ),
                    {"s": schema},
                )
            ).scalar_one_or_none()
    finally:
        await engine.dispose()
    return int(str(name).removeprefix("outbox-relay:").split("@")[0]) if name else None


async def audit_log(schema: str) -> dict[str, Any]:
    """What the audit schema holds: its size, its last position, its entries by producer."""
    engine = create_engine(DATABASE_URL, schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            size, last, distinct = (
                await conn.execute(
                    text("SELECT count(*), max(seq), count(DISTINCT event_id) FROM entries")
                )
            ).one()
            rows = (
                await conn.execute(text("SELECT event_id::text, producer, subject_id FROM entries"))
            ).all()
            head = (await conn.execute(text("SELECT max(tree_size) FROM tree_heads"))).scalar()
    finally:
        await engine.dispose()
    return {
        "size": int(size),
        "last": -1 if last is None else int(last),
        "distinct": int(distinct),
        "rows": rows,
        "head": int(head or 0),
    }


async def test_two_replicas_of_every_service_lose_nothing_and_duplicate_nothing(
    replicas: Replicas,
) -> None:
    registries, consents = replicas.replicas["registry"], replicas.urls("consent")
    accessed = f"{replicas.prefix}{DATA_ACCESSED}"
    start = await end_offsets(accessed)
    async with httpx.AsyncClient(timeout=30) as client:
        await grant(client, consents[0])
        users: list[tuple[str, str]] = []
        for i in range(USERS):
            user_id, email = await register(client, registries[i % 2].url)
            await consent(client, consents[(i + 1) % 2], user_id)
            users.append((user_id, email))
        user_ids = [u for u, _ in users]
        subjects = set(user_ids)

        # The stream, first half: reads through both registry replicas and disclosures
        # straight onto Kafka, all at once.
        direct = [disclosure(user_ids[n % USERS]) for n in range(DIRECT)]
        publishing = asyncio.create_task(publish(replicas.prefix, direct))
        reads = 0
        for user_id, replica in zip(user_ids * 2, cycle(registries), strict=False):
            await read(client, replica.url, user_id)
            reads += 1

        # Kill, mid-stream, the registry replica whose relay is active, and one audit replica.
        active = await active_relay_pid(replicas.schemas["registry"])
        victim = next(r for r in registries if r.process is not None and r.process.pid == active)
        survivor = next(r for r in registries if r is not victim)
        victim.kill()
        replicas.replicas["audit"][0].kill()

        # Second half, on the survivors.
        for user_id in user_ids:
            await read(client, survivor.url, user_id)
            reads += 1
        await publishing
        # The standby relay took over the registry's outbox from the killed replica.
        assert survivor.process is not None
        survivor_pid = survivor.process.pid

        async def taken_over() -> bool:
            return await active_relay_pid(replicas.schemas["registry"]) == survivor_pid

        await wait_until(taken_over, 30, "the surviving registry's relay taking over")

        # A breach naming every user, declared on one breach replica.
        declared = await client.post(
            f"{replicas.urls('breach')[1]}/breaches",
            json=declaration(user_ids),
            headers=SECURITY,
        )
        assert declared.status_code == 201, declared.text

    # Kafka: every read's disclosure once (the surviving registry's relay took over and
    # published what the killed one left), every direct one once.
    def ours(records: list[tuple[bytes, bytes]]) -> list[DataAccessed]:
        found = []
        for key, value in records:
            if key.decode() in subjects:
                found.append(DataAccessed.model_validate_json(value))
        return found

    def complete(records: list[tuple[bytes, bytes]]) -> bool:
        return len(ours(records)) >= reads + DIRECT

    records = await read_from(accessed, start, until=complete, timeout=90)
    on_kafka = ours(records)
    counts = Counter(str(e.event_id) for e in on_kafka)
    assert max(counts.values()) == 1, "a disclosure was published twice"
    by_producer = Counter(e.producer for e in on_kafka)
    assert by_producer == {"registry": reads, PRODUCER: DIRECT}, by_producer

    # The audit log: each of them exactly once, numbered without a gap, and signed.
    expected = set(counts)

    async def all_logged() -> bool:
        log = await audit_log(replicas.schemas["audit"])
        return expected <= {str(r.event_id) for r in log["rows"]}

    await wait_until(all_logged, 90, "every disclosure in the audit log")
    log = await audit_log(replicas.schemas["audit"])
    assert log["size"] == log["last"] + 1, "the audit log has a gap"
    assert log["distinct"] == log["size"], "an event was logged twice"
    mine = Counter(str(r.event_id) for r in log["rows"] if r.subject_id in subjects)
    assert set(mine) == expected and max(mine.values()) == 1

    async def signed() -> bool:
        return bool((await audit_log(replicas.schemas["audit"]))["head"] >= log["size"])

    await wait_until(signed, 60, "a signed tree head covering the log")

    # The breach: one notice by mail to each user, whichever notifier replica sent it.
    emails = {email for _, email in users}

    def mailed() -> Counter[str]:
        return Counter(
            str(m["X-Envelope-To"])
            for m in replicas.smtp.messages()
            if m["X-Envelope-To"] in emails
        )

    await wait_until(lambda: set(mailed()) == emails, 90, "a notice to every user")
    await asyncio.sleep(2)  # a late duplicate would show
    assert max(mailed().values()) == 1, "a user was notified twice"


async def test_both_consent_replicas_answer_the_same_once_a_change_propagated(
    replicas: Replicas,
) -> None:
    first, second = replicas.urls("consent")
    async with httpx.AsyncClient(timeout=30) as client:
        await grant(client, first)
        user_id, _ = await register(client, replicas.live_urls("registry")[0])
        query = {
            "user_id": user_id,
            "organisation": ORG,
            "purpose": SHARING,
            "data_categories": ["email_address"],
        }

        async def decisions() -> list[bool]:
            answers = []
            for url in (first, second):
                response = await client.post(f"{url}/decisions", json=query, headers=PLATFORM)
                assert response.status_code == 200, response.text
                answers.append(bool(response.json()["allow"]))
            return answers

        async def propagated(expected: list[bool]) -> float:
            started = time.monotonic()
            await wait_until(lambda: _equals(decisions(), expected), 10, f"decisions {expected}")
            return time.monotonic() - started

        assert (await decisions())[1] is False
        # A consent taken by one replica: the other answers with it within a bound.
        consent_id = await consent(client, first, user_id)
        granted = await propagated([True, True])
        # Withdrawn on the other replica: the first follows.
        mine = token(Role.SUBJECT, user_id=user_id)
        response = await client.post(
            f"{second}/consents/{consent_id}/withdraw", headers=mine, json={}
        )
        assert response.status_code == 200, response.text
        withdrawn = await propagated([False, False])
    assert max(granted, withdrawn) < 5.0, (granted, withdrawn)


async def _equals(answers: Any, expected: list[bool]) -> bool:
    return bool(await answers == expected)
