"""The audit log against the real broker and database."""

import asyncio
import base64
import csv
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit import verify as verification
from services.audit.config import AuditSettings
from services.audit.domain import tree_head_message
from services.audit.main import build_app
from services.audit.signing import Signer
from shared import events
from shared.auth import Role, mint_token
from shared.db import create_engine, create_sessions
from shared.events import (
    ConsentChangedPayload,
    ConsentGranted,
    ConsentWithdrawn,
    DataAccessed,
    DataAccessedPayload,
    Decision,
    LegalBasis,
    UserErased,
    UserErasedPayload,
)
from shared.producers import create_producer
from shared.settings import DEVELOPMENT_JWT_SECRET
from tests.support import (
    DATABASE_URL,
    KAFKA,
    ROOT,
    read_topic,
    unique,
    wait_until,
)

pytestmark = pytest.mark.integration


def auth(role: Role, **claims: str) -> dict[str, str]:
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


AUDITOR = auth(Role.AUDITOR)


def disclosure(
    subject: str,
    organisation: str = "ph-philexport",
    *,
    at: datetime | None = None,
    consent_id: str | None = "c-1",
    decision: Decision = Decision.ALLOW,
) -> DataAccessed:
    return DataAccessed.create(
        producer="registry",
        subject_id=subject,
        payload=DataAccessedPayload(
            organisation_id=organisation,
            organisation_country="PH",
            actor=f"analyst@{organisation}",
            subject_id=subject,
            subject_country="PH",
            fields=["email_address"],
            purpose="member_organisation_sharing",
            legal_basis=LegalBasis.CONSENT,
            channel="registry_api",
            accessed_at=at or datetime.now(UTC),
            decision=decision,
            consent_id=consent_id,
            consent_version=1,
        ),
    )


def prefix_of(schema: str) -> str:
    """The topic prefix of the audit service on ``schema``: its topics are its own."""
    return f"{schema}."


async def produce(schema: str, *items: tuple[str, bytes, str]) -> None:
    """Send raw values to the topics (by their contract names) of the service on ``schema``."""
    producer = create_producer(KAFKA, linger_ms=5)
    await producer.start()
    try:
        for topic, value, key in items:
            await producer.send(prefix_of(schema) + topic, value=value, key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def publish(schema: str, *evs: events.Envelope) -> None:
    await produce(schema, *((e.topic(), e.to_bytes(), e.subject_id) for e in evs))


def settings(schema: str, **extra: Any) -> AuditSettings:
    return AuditSettings(
        db_schema=schema,
        tree_head_seconds=0.2,
        check_seconds=0.2,
        check_grace_seconds=0.5,
        check_unknown_after_seconds=2.0,
        log_json=True,
        topic_prefix=prefix_of(schema),
        **extra,
    )


@pytest.fixture
async def schema(schema_factory: Callable[[str], str]) -> str:
    return schema_factory("audit")


@pytest.fixture
async def http(schema: str) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = build_app(settings(schema))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://audit") as client:
            yield client


@pytest.fixture
async def engine(schema: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DATABASE_URL, schema, pool_size=2)
    yield engine
    await engine.dispose()


async def stored(engine: AsyncEngine, event_ids: list[str]) -> list[tuple[int, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT seq, event_id::text FROM entries WHERE event_id = ANY(CAST(:i AS uuid[]))"
            ),
            {"i": event_ids},
        )
        return [(int(s), e) for s, e in rows]


async def until_stored(engine: AsyncEngine, evs: list[DataAccessed], timeout: float = 60) -> None:
    ids = [str(e.event_id) for e in evs]

    async def done() -> bool:
        return len(await stored(engine, ids)) >= len(ids)

    await wait_until(done, timeout, "the events to be in the log")


async def signed_head(http: httpx.AsyncClient, at_least: int) -> dict[str, Any]:
    async def ready() -> bool:
        response = await http.get("/tree-heads/latest", headers=AUDITOR)
        return response.status_code == 200 and response.json()["tree_size"] >= at_least

    await wait_until(ready, 30, "a signed tree head")
    head: dict[str, Any] = (await http.get("/tree-heads/latest", headers=AUDITOR)).json()
    return head


# An independent verifier, written from RFC 9162 section 2.1.3.2 and 2.1.4.2.
def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _h(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, root1: bytes, root2: bytes, path: list[bytes]) -> bool:
    if m == n:
        return root1 == root2 and not path
    if not path:
        return False
    if m & (m - 1) == 0:  # m is a power of two: the first root starts the path
        path = [root1, *path]
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _h(b"\x01" + c + fr), _h(b"\x01" + c + sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _h(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1
    return fr == root1 and sr == root2 and sn == 0


async def reading_from_now(topic: str) -> AIOKafkaConsumer:
    """A consumer of ``topic`` placed at its current end (of every partition)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=KAFKA,
        group_id=unique("reader"),
        auto_offset_reset="latest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    for _ in range(100):  # bounded: the group's assignment takes a few seconds at most
        await consumer.getmany(timeout_ms=100)
        if consumer.assignment():
            break
    for partition in consumer.assignment():
        await consumer.position(partition)  # fixed now, before anything is published
    return consumer


async def read_on(
    consumer: AIOKafkaConsumer,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float = 60.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read on with ``consumer`` until ``until(records)``, then stop it."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while not until(records):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"condition not met; {len(records)} records read")
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def b64(value: str) -> bytes:
    return base64.b64decode(value)


async def test_every_event_is_stored_once_even_when_delivered_twice(
    schema: str, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    subject = unique("s")
    evs = [disclosure(subject) for _ in range(300)]
    await publish(schema, *evs, *evs[:50])

    await until_stored(engine, evs)
    await asyncio.sleep(1.0)  # time for any copy to land

    rows = await stored(engine, [str(e.event_id) for e in evs])
    assert sorted(e for _, e in rows) == sorted(str(e.event_id) for e in evs)
    assert len({s for s, _ in rows}) == 300


async def test_update_delete_and_truncate_on_the_log_are_refused(
    schema: str, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    # 16 entries: the lowest level of the tree that is stored (LOWEST_STORED_LEVEL) is 4
    evs = [disclosure(unique("s")) for _ in range(16)]
    await publish(schema, *evs)
    await until_stored(engine, evs)
    await signed_head(http, 16)  # so every table below holds rows the triggers must guard
    for table in ("entries", "tree_nodes", "tree_heads"):
        async with engine.connect() as conn:
            count = await conn.execute(text(f"SELECT count(*) FROM {table}"))
            assert int(count.scalar_one()) > 0, table
    for statement in (
        "UPDATE entries SET actor = 'someone else'",
        "DELETE FROM entries",
        "TRUNCATE entries CASCADE",
        "UPDATE tree_nodes SET hash = ''::bytea",
        "DELETE FROM tree_heads",
    ):
        async with engine.begin() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                await conn.execute(text(statement))


async def test_verification_names_the_entry_altered_behind_the_services_back(
    http: httpx.AsyncClient, engine: AsyncEngine, schema: str
) -> None:
    evs = [disclosure(unique("s")) for _ in range(40)]
    await publish(schema, *evs)
    await until_stored(engine, evs)
    await signed_head(http, 40)
    public = Signer.from_seed(settings(schema).signing_seed()).public_key
    assert (await verification.verify(create_sessions(engine), public)).ok

    target = sorted(await stored(engine, [str(evs[17].event_id)]))[0][0]
    async with engine.begin() as conn:  # as the table owner, with the triggers switched off
        await conn.execute(text("ALTER TABLE entries DISABLE TRIGGER entries_append_only"))
        await conn.execute(
            text("UPDATE entries SET purpose = 'marketing' WHERE seq = :s"), {"s": target}
        )
        await conn.execute(text("ALTER TABLE entries ENABLE TRIGGER entries_append_only"))

    report = await verification.verify(create_sessions(engine), public)
    assert not report.ok
    assert report.first_mismatch is not None
    assert report.first_mismatch["seq"] == target
    assert report.first_mismatch["event_id"] == str(evs[17].event_id)


async def test_the_verify_command_exits_1_and_prints_the_mismatch(
    http: httpx.AsyncClient, engine: AsyncEngine, schema: str
) -> None:
    evs = [disclosure(unique("s")) for _ in range(5)]
    await publish(schema, *evs)
    await until_stored(engine, evs)
    seqs = sorted(s for s, _ in await stored(engine, [str(e.event_id) for e in evs]))
    command = [sys.executable, "-m", "services.audit.verify"]
    env = {**os.environ, "AUDIT_DB_SCHEMA": schema, "PYTHONPATH": str(ROOT)}
    ok = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE entries DISABLE TRIGGER entries_append_only"))
        await conn.execute(text("UPDATE entries SET actor = 'x' WHERE seq = :s"), {"s": seqs[2]})
        await conn.execute(text("ALTER TABLE entries ENABLE TRIGGER entries_append_only"))
    bad = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, cwd=ROOT)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["first_mismatch"]["seq"] == seqs[2]


async def test_inclusion_and_consistency_proofs_verify_independently(
    schema: str, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    first = [disclosure(unique("s")) for _ in range(21)]
    await publish(schema, *first)
    await until_stored(engine, first)
    head1 = await signed_head(http, 1)
    more = [disclosure(unique("s")) for _ in range(34)]
    await publish(schema, *more)
    await until_stored(engine, more)
    head2 = await signed_head(http, head1["tree_size"] + 34)

    key = (await http.get("/public-key", headers=AUDITOR)).json()
    public = Ed25519PublicKey.from_public_bytes(b64(key["public_key"]))
    for head in (head1, head2):
        signed_at = datetime.fromtimestamp(head["timestamp"] / 1000, UTC)
        message = tree_head_message(head["tree_size"], b64(head["root_hash"]), signed_at)
        public.verify(b64(head["signature"]), message)  # raises if it does not verify

    n = head2["tree_size"]
    for seq in (0, n // 2, n - 1):
        proof = (
            await http.get(
                "/proofs/inclusion", params={"seq": seq, "tree_size": n}, headers=AUDITOR
            )
        ).json()
        entry = (await http.get(f"/entries/{seq}", headers=AUDITOR)).json()
        leaf = _h(b"\x00" + b64(entry["leaf_data"]))
        assert leaf == b64(proof["leaf_hash"])
        path = [b64(p) for p in proof["audit_path"]]
        assert verify_inclusion(leaf, seq, n, path, b64(head2["root_hash"]))
        assert not verify_inclusion(_h(b"\x00wrong"), seq, n, path, b64(head2["root_hash"]))

    m = head1["tree_size"]
    proof = (
        await http.get("/proofs/consistency", params={"first": m, "second": n}, headers=AUDITOR)
    ).json()
    path = [b64(p) for p in proof["consistency_path"]]
    r1, r2 = b64(head1["root_hash"]), b64(head2["root_hash"])
    assert verify_consistency(m, n, r1, r2, path)
    assert not verify_consistency(m, n, _h(b"forged"), r2, path)


async def test_a_disclosure_after_a_withdrawal_is_flagged_as_a_violation(
    schema: str, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    subject, consent_id = unique("s"), str(uuid.uuid4())
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    # the topic holds every earlier run's violations: read on from where it ends now
    announcements = await reading_from_now(prefix_of(schema) + events.AUDIT_VIOLATION_DETECTED)

    def change(cls: Any, version: int, at: datetime) -> events.Envelope:
        return cls.create(
            producer="consent",
            subject_id=subject,
            payload=ConsentChangedPayload(
                consent_id=consent_id,
                version=version,
                user_id=subject,
                purpose="member_organisation_sharing",
                organisation_id="ph-philexport",
                notice_version="2024-01-11",
                valid_from=at,
                country=None,
                data_categories=[],
                valid_until=None,
            ),
        )

    await publish(
        schema,
        change(ConsentGranted, 1, t0),
        change(ConsentWithdrawn, 2, t0 + timedelta(minutes=5)),
    )

    async def history_known() -> bool:  # the consent topic may hold a long history first
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT count(*) FROM consent_changes WHERE consent_id = :c"),
                {"c": consent_id},
            )
            return int(found.scalar_one()) == 2

    await wait_until(history_known, 60, "the consent history to arrive")
    before = disclosure(subject, at=t0 + timedelta(minutes=1), consent_id=consent_id)
    after = disclosure(subject, at=t0 + timedelta(minutes=6), consent_id=consent_id)
    await publish(schema, before, after)
    await until_stored(engine, [before, after])

    async def flagged() -> list[dict[str, Any]]:
        response = await http.get(
            "/disclosures", params={"subject": subject, "violations": True}, headers=AUDITOR
        )
        return list(response.json()["items"])

    await wait_until(flagged, 30, "the violation to be flagged")
    violations = await flagged()
    assert [v["event_id"] for v in violations] == [str(after.event_id)]
    assert [v["verdict"] for v in violations] == ["violation"]
    listed = await http.get("/violations", params={"limit": 1000}, headers=AUDITOR)
    assert listed.status_code == 200 and all(
        v["verdict"] == "violation" for v in listed.json()["items"]
    )
    records = await read_on(
        announcements,
        until=lambda rs: any(r.key == subject.encode() for r in rs),
    )
    mine = [json.loads(r.value) for r in records if r.key == subject.encode()]
    assert mine[0]["payload"]["disclosure_event_id"] == str(after.event_id)
    assert "withdrawn" in mine[0]["payload"]["reason"]


async def test_an_organisation_reads_only_its_own_disclosures(
    schema: str, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    subject = unique("s")
    mine = [disclosure(subject, "ph-philexport") for _ in range(3)]
    theirs = [disclosure(subject, "th-board-of-trade") for _ in range(2)]
    await publish(schema, *mine, *theirs)
    await until_stored(engine, [*mine, *theirs])
    org = auth(Role.MEMBER_ORG, org_id="ph-philexport")

    page = await http.get("/disclosures", params={"subject": subject}, headers=org)

    assert {i["organisation_id"] for i in page.json()["items"]} == {"ph-philexport"}
    assert len(page.json()["items"]) == 3
    other = await http.get(
        "/disclosures", params={"organisation": "th-board-of-trade"}, headers=org
    )
    assert other.status_code == 403
    seq = (await stored(engine, [str(theirs[0].event_id)]))[0][0]
    assert (await http.get(f"/entries/{seq}", headers=org)).status_code == 404
    assert (await http.get("/disclosures")).status_code == 401


async def test_queries_filter_page_and_export(
    schema: str, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    subject = unique("s")
    evs = [disclosure(subject) for _ in range(7)]
    await publish(schema, *evs)
    await until_stored(engine, evs)

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"subject": subject, "limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await http.get("/disclosures", params=params, headers=AUDITOR)).json()
        seen += [i["event_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(e.event_id) for e in evs)
    for decision, count in (("allow", 7), ("deny", 0)):
        page = await http.get(
            "/disclosures", params={"subject": subject, "decision": decision}, headers=AUDITOR
        )
        assert len(page.json()["items"]) == count, decision
    refused = await http.get("/disclosures", params={"decision": "maybe"}, headers=AUDITOR)
    assert refused.status_code == 422 and refused.json()["detail"]["field"] == "query.decision"

    lines = await http.get(
        "/disclosures/export", params={"subject": subject, "format": "jsonl"}, headers=AUDITOR
    )
    assert [json.loads(x)["subject_id"] for x in lines.text.splitlines()] == [subject] * 7
    table = await http.get(
        "/disclosures/export", params={"subject": subject, "format": "csv"}, headers=AUDITOR
    )
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert len(rows) == 7 and rows[0]["organisation_id"] == "ph-philexport"

    report = await http.get(
        f"/subjects/{subject}/report", headers=auth(Role.SUBJECT, user_id=subject)
    )
    assert len(report.json()["items"]) == 7
    someone = auth(Role.SUBJECT, user_id="someone-else")
    assert (await http.get(f"/subjects/{subject}/report", headers=someone)).status_code == 403
    window = {
        "since": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "until": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }
    # The topic's history holds other tests' subjects of the same organisation: page on.
    affected: list[str] = []
    after: dict[str, str] = {}
    for _ in range(1000):
        page = await http.get(
            "/organisations/ph-philexport/subjects",
            params={**window, **after, "limit": 10_000},
            headers=auth(Role.SECURITY),
        )
        affected += page.json()["subjects"]
        if page.json()["next_after"] is None:
            break
        after = {"after": page.json()["next_after"]}
    assert subject in affected


async def test_erasure_keeps_the_entries_and_their_proofs_but_not_the_personal_part(
    http: httpx.AsyncClient, engine: AsyncEngine, schema: str
) -> None:
    subject = unique("s")
    evs = [disclosure(subject) for _ in range(3)]
    await publish(schema, *evs)
    await until_stored(engine, evs)
    before = (await http.get("/disclosures", params={"subject": subject}, headers=AUDITOR)).json()
    assert [i["subject_country"] for i in before["items"]] == ["PH"] * 3
    await publish(
        schema,
        UserErased.create(
            producer="registry",
            subject_id=subject,
            payload=UserErasedPayload(
                user_id=subject, erased_at=datetime.now(UTC), requested_by="subject"
            ),
        ),
    )

    async def erased() -> bool:
        async with engine.connect() as conn:
            left = await conn.execute(
                text(
                    "SELECT count(*) FROM entry_personal p JOIN entries e USING (seq) "
                    "WHERE e.subject_id = :s"
                ),
                {"s": subject},
            )
            return int(left.scalar_one()) == 0

    await wait_until(erased, 30, "the personal part to be erased")
    assert len(await stored(engine, [str(e.event_id) for e in evs])) == 3
    page = (await http.get("/disclosures", params={"subject": subject}, headers=AUDITOR)).json()
    assert {i["subject_country"] for i in page["items"]} == {None}
    public = Signer.from_seed(settings(schema).signing_seed()).public_key
    await signed_head(http, 3)
    assert (await verification.verify(create_sessions(engine), public)).ok


async def test_malformed_events_go_to_the_dlq_and_the_rest_are_stored(
    schema: str, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    good = disclosure(unique("s"))

    def broken(change: Callable[[dict[str, Any]], None]) -> tuple[str, bytes, str]:
        body = json.loads(good.to_bytes())
        body["event_id"] = str(uuid.uuid4())
        change(body["payload"])
        return (events.DATA_ACCESSED, json.dumps(body).encode(), body["event_id"])

    no_actor = broken(lambda p: p.pop("actor"))
    # Valid by the contract, but no column could hold them: each would have failed the
    # whole batch in the database.
    nul = broken(lambda p: p.update(actor="ana\x00lyst"))
    country = broken(lambda p: p.update(organisation_country="PHL"))
    version = broken(lambda p: p.update(consent_version=2**40))
    marker = unique("garbage")
    await produce(
        schema,
        (events.DATA_ACCESSED, marker.encode(), marker),
        no_actor,
        nul,
        country,
        version,
        (good.topic(), good.to_bytes(), good.subject_id),
    )
    await until_stored(engine, [good])
    expected = {marker, no_actor[2], nul[2], country[2], version[2]}
    records = await read_topic(
        events.dlq_topic(prefix_of(schema) + events.DATA_ACCESSED),
        until=lambda rs: expected <= {(r.key or b"").decode() for r in rs},
    )
    reasons = {
        (r.key or b"").decode(): dict((k, v.decode()) for k, v in r.headers)["dlq-reason"]
        for r in records
    }
    assert "payload.actor" in reasons[no_actor[2]]
    assert "payload.actor: holds a NUL" in reasons[nul[2]]
    assert "payload.organisation_country" in reasons[country[2]]
    assert "payload.consent_version" in reasons[version[2]]
    assert "not valid JSON" in reasons[marker]
    async with engine.connect() as conn:
        stored_ids = await conn.execute(
            text("SELECT count(*) FROM entries WHERE event_id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": [no_actor[2], nul[2], country[2], version[2]]},
        )
        assert stored_ids.scalar_one() == 0


async def committed(group: str, partition: TopicPartition) -> int:
    """The consumer group's committed offset on ``partition`` (-1 when none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    found = offsets.get(partition)
    return -1 if found is None else found.offset


async def test_offsets_are_committed_only_once_the_batch_is_in_the_log(
    http: httpx.AsyncClient, engine: AsyncEngine, schema: str
) -> None:
    group = f"{schema}.{prefix_of(schema)}{events.DATA_ACCESSED}"
    producer = create_producer(KAFKA)
    await producer.start()
    try:
        first = disclosure(unique("s"))
        await publish(schema, first)
        await until_stored(engine, [first])
        # Hold the log: an appender's COPY waits for this lock, as for a slow database.
        holder = await asyncpg.connect(
            DATABASE_URL.replace("postgresql+asyncpg", "postgresql"),
            server_settings={"search_path": schema},
        )
        held = holder.transaction()
        await held.start()
        await holder.execute("LOCK TABLE entries IN SHARE ROW EXCLUSIVE MODE")
        try:
            second = disclosure(unique("s"))
            sent = await producer.send_and_wait(
                prefix_of(schema) + second.topic(), second.to_bytes(), key=second.key()
            )
            where = TopicPartition(sent.topic, sent.partition)
            await asyncio.sleep(3)  # long enough for the batch to be read and stuck
            assert await stored(engine, [str(second.event_id)]) == []
            assert await committed(group, where) <= sent.offset
        finally:
            await held.rollback()
            await holder.close()
        await until_stored(engine, [second])

        async def moved_on() -> bool:
            return await committed(group, where) > sent.offset

        await wait_until(moved_on, 30, "the offset to be committed after the write")
    finally:
        await producer.stop()


async def test_a_batch_whose_reading_fails_is_read_again_not_skipped(
    schema: str, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offsets are committed by the writer (the manual policy), so a batch that never
    reached it must be fetched again, or the next batch's commit would pass over it."""
    from services.audit import ingestion

    first = disclosure(unique("s"))
    marker = str(first.event_id).encode()
    failures: list[int] = []
    real_read = ingestion.read

    def flaky(values: list[bytes]) -> ingestion.Read:
        if not failures and any(marker in value for value in values):
            failures.append(len(values))
            raise RuntimeError("the reader failed once")
        return real_read(values)

    monkeypatch.setattr(ingestion, "read", flaky)
    app: FastAPI = build_app(settings(schema, ingest_workers=0))
    async with app.router.lifespan_context(app):
        await publish(schema, first)
        later = [disclosure(unique("s")) for _ in range(5)]
        await publish(schema, *later)
        await until_stored(engine, later, timeout=30)
        await until_stored(engine, [first], timeout=10)
    assert failures, "the reader never failed: the test proved nothing"


@pytest.mark.fault
async def test_a_killed_worker_process_is_replaced_and_nothing_is_lost(
    schema: str, engine: AsyncEngine
) -> None:
    app: FastAPI = build_app(settings(schema, ingest_workers=1))
    async with app.router.lifespan_context(app):
        reader = app.state.runtime.reader
        workers = list(reader._pool._processes)
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGKILL)
        evs = [disclosure(unique("s")) for _ in range(20)]
        await publish(schema, *evs)
        await until_stored(engine, evs, timeout=30)
        more = [disclosure(unique("s")) for _ in range(20)]
        await publish(schema, *more)
        await until_stored(engine, more, timeout=30)
        replaced = list(reader._pool._processes)
        assert replaced and replaced != workers


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:  # the process ended while we looked
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


@pytest.mark.fault
@pytest.mark.parametrize("workers", ["0", "1"], ids=["reader-thread", "reader-process"])
async def test_a_consumer_killed_mid_batch_stores_each_event_once_after_restart(
    schema: str, engine: AsyncEngine, workers: str
) -> None:
    total = 10_000
    evs = [disclosure(unique("s")) for _ in range(total)]
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AUDIT_DB_SCHEMA": schema,
        "AUDIT_TOPIC_PREFIX": prefix_of(schema),
        "AUDIT_HTTP_PORT": str(port),
        "AUDIT_INGEST_BATCH_SIZE": "200",
        "AUDIT_INGEST_WORKERS": workers,
        "LOG_LEVEL": "WARNING",
    }

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "services.audit.main"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def stream() -> None:  # still publishing when the kill comes
        for i in range(0, total, 500):
            await publish(schema, *evs[i : i + 500])
            await asyncio.sleep(0.05)

    async def ready() -> bool:
        async with httpx.AsyncClient() as client:
            try:
                return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
            except httpx.TransportError:
                return False

    first = spawn()
    producing: asyncio.Task[None] | None = None
    try:
        await wait_until(ready, 60, "the service to start")
        producing = asyncio.create_task(stream())
        ids = [str(e.event_id) for e in evs]

        async def some() -> bool:
            try:
                return len(await stored(engine, ids)) >= 400
            except DBAPIError:  # the service has not migrated its schema yet
                return False

        await wait_until(some, 90, "part of the batch stream")
        reader_processes = children(first.pid)  # the worker and multiprocessing's tracker
        assert bool(reader_processes) == (workers == "1")
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 30)
        partial = len(await stored(engine, ids))
        assert partial < total, "the kill came after everything was stored; nothing was proven"

        async def orphans_gone() -> bool:
            return not any(Path(f"/proc/{pid}").exists() for pid in reader_processes)

        await wait_until(orphans_gone, 10, "the killed service's worker to exit")
    finally:
        if first.poll() is None:
            first.kill()
        if producing is not None:
            await producing
    second = spawn()
    try:
        await until_stored(engine, evs, timeout=120)
        await asyncio.sleep(2.0)
    finally:
        second.terminate()
        await asyncio.to_thread(second.wait, 30)
    rows = await stored(engine, ids)
    assert len(rows) == total
    assert len({s for s, _ in rows}) == total


async def test_a_writer_that_stopped_makes_the_service_not_ready(
    schema: str, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.audit import ingest

    assert (await http.get("/readyz")).json()["checks"]["log_writer"] == "ok"

    async def broken(self: Any, ready: Any) -> None:
        raise RuntimeError("a bug in the writer")

    monkeypatch.setattr(ingest.Writer, "_write", broken)
    await publish(schema, disclosure(unique("s")))

    async def not_ready() -> bool:
        return (await http.get("/readyz")).status_code == 503

    await wait_until(not_ready, 30, "the readiness check to see the stopped writer")
    checks = (await http.get("/readyz")).json()["checks"]
    assert checks["log_writer"].startswith("stopped")
    assert checks["database"] == checks["kafka"] == "ok"


async def test_an_event_without_an_event_id_goes_to_the_dlq_at_every_delivery(
    schema: str, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    subject = unique("s")
    body = json.loads(disclosure(subject).to_bytes())
    del body["event_id"]
    value = json.dumps(body).encode()
    good = disclosure(unique("s"))
    await produce(
        schema,
        (events.DATA_ACCESSED, value, subject),
        (events.DATA_ACCESSED, value, subject),  # delivered again
        (good.topic(), good.to_bytes(), good.subject_id),
    )
    await until_stored(engine, [good])
    records = await read_topic(
        events.dlq_topic(prefix_of(schema) + events.DATA_ACCESSED),
        until=lambda rs: sum(r.key == subject.encode() for r in rs) >= 2,
    )
    reasons = [
        dict((k, v.decode()) for k, v in r.headers)["dlq-reason"]
        for r in records
        if r.key == subject.encode()
    ]
    # Every delivery is refused (other audit replicas of the suite may refuse it too).
    assert len(reasons) >= 2
    assert set(reasons) == {"invalid event: event_id: Field required"}
    async with engine.connect() as conn:
        count = await conn.execute(
            text("SELECT count(*) FROM entries WHERE subject_id = :s"), {"s": subject}
        )
        assert count.scalar_one() == 0
