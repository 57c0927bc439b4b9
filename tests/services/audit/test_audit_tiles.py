"""The log as standard tools read it: the checkpoint (a C2SP signed note), tiles and
entry bundles computed from the stored tree, the bulk read, and the whole log checked
from tiles over HTTP alone."""

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit import ingestion, repository, signing
from services.audit.bootstrap import AuditRuntime, bootstrap
from services.audit.config import AuditSettings
from services.audit.main import build_app
from shared.app import Infrastructure, create_broker
from shared.auth import Role
from shared.db import create_sessions
from shared.tlog.hashes import leaf_hash
from shared.tlog.monitor import LogMismatch, verify_log
from shared.tlog.note import open_checkpoint, parse_vkey
from shared.tlog.tiles import Tile, split_hashes, tiles_of, unbundle
from tests.services.audit.conftest import Append, auth, body

pytestmark = pytest.mark.integration

AUDITOR = auth(Role.AUDITOR)
ORIGIN = "audit.test.example/log"


@dataclass
class Log:
    client: httpx.AsyncClient
    runtime: AuditRuntime

    async def sign(self) -> int:
        """Sign a head over what was appended (the runtime's edge is loaded again)."""
        await ingestion.load(self.runtime.sessions, self.runtime.audit_log)
        size = await signing.sign_tree_head(
            self.runtime.sessions, self.runtime.audit_log, self.runtime.signer
        )
        assert size is not None
        return size


async def serve_log(
    audit_schema: str,
    engine: AsyncEngine,
    witness_client: httpx.AsyncClient | None = None,
    **settings: object,
) -> AsyncIterator[Log]:
    """The audit API on a bootstrapped runtime (no consumer, no jobs) whose origin is
    ``ORIGIN``, with ``settings`` changed."""
    config = AuditSettings(db_schema=audit_schema, log_origin=ORIGIN, **settings)  # type: ignore[arg-type]
    app: FastAPI = build_app(config)
    infra = Infrastructure(
        settings=config,
        engine=engine,
        sessions=create_sessions(engine),
        broker=create_broker(config),
    )
    runtime = await bootstrap(infra, witness_client=witness_client)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://audit") as client:
        yield Log(client, runtime)


@pytest.fixture
async def log(audit_schema: str, audit_engine: AsyncEngine) -> AsyncIterator[Log]:
    async for made in serve_log(audit_schema, audit_engine):
        yield made


@pytest.fixture
async def public_log(audit_schema: str, audit_engine: AsyncEngine) -> AsyncIterator[Log]:
    async for made in serve_log(audit_schema, audit_engine, tiles_public=True):
        yield made


async def grow(append: Append, count: int) -> None:
    for start in range(0, count, 500):
        await append([body() for _ in range(min(500, count - start))])


async def test_the_checkpoint_is_a_signed_note_under_the_published_verifier_key(
    log: Log, append: Append
) -> None:
    missing = await log.client.get("/checkpoint", headers=AUDITOR)
    assert missing.status_code == 404
    await grow(append, 5)
    size = await log.sign()
    response = await log.client.get("/checkpoint", headers=auth(Role.SECURITY))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    key = (await log.client.get("/public-key", headers=AUDITOR)).json()
    assert key["origin"] == ORIGIN
    verifier = parse_vkey(key["verifier_key"])
    assert verifier.public_key == base64.b64decode(key["public_key"])
    checkpoint, _ = open_checkpoint(response.content, [verifier])
    head = (await log.client.get("/tree-heads/latest", headers=AUDITOR)).json()
    assert (checkpoint.origin, checkpoint.size) == (ORIGIN, size)
    assert checkpoint.root == base64.b64decode(head["root_hash"])
    assert response.text.startswith(f"{ORIGIN}\n5\n{head['root_hash']}\n\n\u2014 {ORIGIN} ")
    assert (await log.client.get("/checkpoint")).status_code == 401


async def test_every_tile_and_bundle_agrees_with_the_stored_tree(
    log: Log, append: Append, audit_engine: AsyncEngine
) -> None:
    await grow(append, 600)  # two full tiles of leaves, a partial one, level 1 partial
    size = await log.sign()
    async with create_sessions(audit_engine)() as session:
        stored = await repository.stored_range(session, 0, size)
    leaves = [s.leaf_hash for s in stored]
    for tile in tiles_of(size):
        response = await log.client.get("/" + tile.path, headers=AUDITOR)
        assert response.status_code == 200, tile.path
        assert response.headers["content-type"] == "application/octet-stream"
        hashes = split_hashes(response.content, tile.width)
        if tile.level == 0:
            assert hashes == leaves[tile.nodes.start : tile.nodes.stop]
        cache = response.headers["cache-control"]
        assert cache == (
            "private, max-age=31536000, immutable" if tile.full else "private, max-age=60"
        )
    bundle = await log.client.get("/tile/entries/000", headers=AUDITOR)
    entries = unbundle(bundle.content)
    assert len(entries) == 256
    # the entries are exactly what the tree hashed, and what GET /entries/{seq} shows
    assert [leaf_hash(e) for e in entries] == leaves[:256]
    one = (await log.client.get("/entries/3", headers=AUDITOR)).json()
    assert base64.b64decode(one["leaf_data"]) == entries[3]
    partial = await log.client.get("/tile/entries/002.p/88", headers=AUDITOR)
    assert [leaf_hash(e) for e in unbundle(partial.content)] == leaves[512:600]


async def test_a_tile_beyond_the_newest_checkpoint_is_not_found(log: Log, append: Append) -> None:
    await grow(append, 300)
    await log.sign()
    await grow(append, 300)  # stored, not yet signed
    for path in ("tile/0/001", "tile/0/002.p/1", "tile/entries/001", "tile/1/000.p/2"):
        assert (await log.client.get("/" + path, headers=AUDITOR)).status_code == 404, path
    assert (await log.client.get("/tile/0/001.p/44", headers=AUDITOR)).status_code == 200
    for path in ("tile/0/1", "tile/0/x000/001", "tile/00/000", "tile/0/000.p/256"):
        assert (await log.client.get("/" + path, headers=AUDITOR)).status_code == 404, path


async def test_tiles_are_the_auditors_unless_the_operator_makes_them_public(
    log: Log, public_log: Log, append: Append
) -> None:
    await grow(append, 3)
    await log.sign()
    for headers in (auth(Role.SECURITY), auth(Role.MEMBER_ORG, org_id="o"), auth(Role.PLATFORM)):
        assert (await log.client.get("/tile/0/000.p/3", headers=headers)).status_code == 403
    assert (await log.client.get("/tile/0/000.p/3")).status_code == 401
    response = await public_log.client.get("/tile/entries/000.p/3")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=60"
    assert (await public_log.client.get("/checkpoint")).status_code == 200


async def test_the_whole_log_verifies_from_its_tiles_over_http(log: Log, append: Append) -> None:
    await grow(append, 1100)
    await log.sign()
    key = parse_vkey((await log.client.get("/public-key", headers=AUDITOR)).json()["verifier_key"])
    log.client.headers.update(AUDITOR)
    result = await verify_log(log.client, key)
    assert (result.checkpoint.size, result.entries) == (1100, 1100)
    assert result.tiles == len(list(tiles_of(1100)))


async def test_a_tile_that_disagrees_is_named(log: Log, append: Append) -> None:
    await grow(append, 300)
    await log.sign()
    key = parse_vkey((await log.client.get("/public-key", headers=AUDITOR)).json()["verifier_key"])
    real = log.client

    async def tampered(request: httpx.Request) -> httpx.Response:
        response = await real.get(request.url.path, headers=AUDITOR)
        content = response.content
        if request.url.path == "/tile/entries/001.p/44":
            entries = unbundle(content)
            entries[0] = entries[0].replace(b'"decision":"allow"', b'"decision":"deny"')
            content = b"".join(len(e).to_bytes(2, "big") + e for e in entries)
        return httpx.Response(response.status_code, content=content)

    transport = httpx.MockTransport(tampered)
    async with httpx.AsyncClient(transport=transport, base_url="http://audit") as client:
        with pytest.raises(LogMismatch, match="entry bundle 1"):
            await verify_log(client, key)
    assert Tile(None, 1, 44).path == "tile/entries/001.p/44"


async def test_the_bulk_read_streams_each_entry_s_leaf_data_a_line(
    log: Log, append: Append, audit_engine: AsyncEngine
) -> None:
    await grow(append, 120)
    async with create_sessions(audit_engine)() as session:
        stored = await repository.stored_range(session, 0, 120)
    response = await log.client.get("/entries", params={"start": 10, "end": 200}, headers=AUDITOR)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = response.content.split(b"\n")[:-1]
    assert len(lines) == 110  # the log ends at 120
    assert [leaf_hash(line) for line in lines] == [s.leaf_hash for s in stored[10:]]
    assert json.loads(lines[0])["event_id"] == stored[10].entry.event_id
    for params in ({"start": 5, "end": 5}, {"start": 0, "end": 100_001}):
        refused = await log.client.get("/entries", params=params, headers=AUDITOR)
        assert refused.status_code == 422, params
    forbidden = await log.client.get(
        "/entries", params={"start": 0, "end": 1}, headers=auth(Role.SECURITY)
    )
    assert forbidden.status_code == 403


async def test_the_monitor_command_checks_a_log_over_http(
    log: Log, append: Append, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.tlog import monitor

    await grow(append, 20)
    await log.sign()
    vkey = (await log.client.get("/public-key", headers=AUDITOR)).json()["verifier_key"]
    transport = log.client._transport  # the app, as the command's client sees it
    real = httpx.AsyncClient
    monkeypatch.setattr(monitor.httpx, "AsyncClient", lambda **kw: real(transport=transport, **kw))
    token = AUDITOR["Authorization"].removeprefix("Bearer ")
    assert await monitor._main(["http://audit", vkey, "--token", token]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "ok": True,
        "origin": ORIGIN,
        "size": 20,
        "entries": 20,
        "tiles": 1,
        "cosigned_by": [],
    }
    other = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    assert await monitor._main(["http://audit", other, "--token", token]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


TRICKY = [
    'a "quoted" \\ back\\slash / slash',
    "tab\there, new\nline, return\r, \x08\x0c, \x01\x1f and \x7f",
    "é, 中文, emoji \U0001f600, line separator \u2028, paragraph \u2029",
    "",
]


async def test_leaf_data_spelt_by_the_database_is_what_the_tree_hashed(
    log: Log, append: Append, audit_engine: AsyncEngine
) -> None:
    """PostgreSQL spells the bulk read's and the bundles' leaf data: every kind of text
    (quotes, escapes, control characters, non-ASCII) and nulls come out as the writer's
    canonical JSON did, byte for byte."""
    made = [
        body(actor=text, decision_reason=text or None, legal_reference=text, consent_version=None)
        for text in TRICKY
    ]
    made.append(body(grant_id=None, consent_id=None, fields=[]))
    await append(made)
    size = await log.sign()
    async with create_sessions(audit_engine)() as session:
        stored = [s.leaf_hash for s in await repository.stored_range(session, 0, size)]
    assert size == len(made)
    response = await log.client.get("/entries", params={"start": 0, "end": size}, headers=AUDITOR)
    lines = response.content.split(b"\n")[:-1]
    assert [leaf_hash(line) for line in lines] == stored
    assert [json.loads(line)["actor"] for line in lines[: len(TRICKY)]] == TRICKY
    bundle = await log.client.get(f"/tile/entries/000.p/{size}", headers=AUDITOR)
    assert unbundle(bundle.content) == lines


async def test_a_bundle_read_reads_its_group_ahead_and_keeps_only_full_ones(
    log: Log, append: Append, audit_engine: AsyncEngine
) -> None:
    await grow(append, 600)  # two full bundles and a partial one
    size = await log.sign()
    kept = log.runtime.full_tiles
    first = await log.client.get("/tile/entries/000", headers=AUDITOR)
    assert first.status_code == 200
    ahead = kept.get(Tile(None, 1))  # read with the first, in one query
    assert ahead is not None and kept.get(Tile(None, 2, size - 512)) is None
    async with create_sessions(audit_engine)() as session:
        stored = [s.leaf_hash for s in await repository.stored_range(session, 0, size)]
    second = await log.client.get("/tile/entries/001", headers=AUDITOR)
    assert second.content == ahead
    assert [leaf_hash(e) for e in unbundle(second.content)] == stored[256:512]
    assert (await log.client.get("/tile/entries/002", headers=AUDITOR)).status_code == 404
    partial = await log.client.get(f"/tile/entries/002.p/{size - 512}", headers=AUDITOR)
    assert [leaf_hash(e) for e in unbundle(partial.content)] == stored[512:]
