"""Witnesses cosign the log's checkpoints: the log submits each new checkpoint with a
consistency proof, keeps the cosignatures and serves the checkpoint with them; the
checkpoint then verifies under each witness's key, in our code and in Go's."""

import base64
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools import gotools
from devtools.witness import Witness, build_app, witness_of
from services.audit import witnesses
from services.audit.config import AuditSettings
from services.audit.signing import Signer
from shared.auth import Role
from shared.tlog.note import Cosigner, open_checkpoint, parse_vkey
from tests.services.audit.conftest import Append, auth
from tests.services.audit.test_audit_tiles import ORIGIN, Log, grow, serve_log

pytestmark = pytest.mark.integration

AUDITOR = auth(Role.AUDITOR)
LOG_VKEY = Signer.from_seed(AuditSettings().signing_seed()).note_signer(ORIGIN).verifier.vkey


class Witnesses(httpx.AsyncBaseTransport):
    """Our witnesses' apps, each at http://<its host>."""

    def __init__(self, apps: dict[str, Witness]) -> None:
        self.apps = {host: httpx.ASGITransport(app=build_app(w)) for host, w in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.apps[request.url.host].handle_async_request(request)


@pytest.fixture
def our_witnesses(tmp_path: Path) -> dict[str, Witness]:
    return {
        f"w{i}": witness_of(
            f"witness.example/w{i}", Ed25519PrivateKey.generate(), [LOG_VKEY], tmp_path / f"w{i}"
        )
        for i in (1, 2)
    }


@pytest.fixture
async def cosigned_log(
    audit_schema: str, audit_engine: AsyncEngine, our_witnesses: dict[str, Witness]
) -> AsyncIterator[Log]:
    configured = [
        {"vkey": w.cosigner.verifier.vkey, "url": f"http://{host}/"}
        for host, w in our_witnesses.items()
    ]
    client = httpx.AsyncClient(transport=Witnesses(our_witnesses))
    async for made in serve_log(audit_schema, audit_engine, client, witnesses=configured):
        yield made
    await client.aclose()


async def test_the_checkpoint_carries_a_cosignature_of_each_witness(
    cosigned_log: Log, append: Append, our_witnesses: dict[str, Witness]
) -> None:
    submitter = cosigned_log.runtime.witnesses
    assert submitter is not None
    keys = [parse_vkey(LOG_VKEY), *(w.cosigner.verifier for w in our_witnesses.values())]
    current = 0
    for size in (5, 300, 301):  # from nothing, then with consistency proofs
        await grow(append, size - current)
        current = signed = await cosigned_log.sign()
        await submitter.round()
        note = (await cosigned_log.client.get("/checkpoint", headers=AUDITOR)).content
        checkpoint, verified = open_checkpoint(note, keys)
        assert (checkpoint.size, verified) == (signed, keys)
        for key in keys[1:]:  # each witness's key alone
            assert open_checkpoint(note, [key])[1] == [key]
    assert {w.state.read()[ORIGIN][0] for w in our_witnesses.values()} == {301}


async def test_a_log_that_forgot_where_a_witness_stands_learns_it_from_a_409(
    cosigned_log: Log, append: Append, our_witnesses: dict[str, Witness]
) -> None:
    submitter = cosigned_log.runtime.witnesses
    assert submitter is not None
    await grow(append, 10)
    await cosigned_log.sign()
    await submitter.round()
    await grow(append, 10)
    size = await cosigned_log.sign()
    for witness in submitter.witnesses:  # as after a restart
        witness.size = 0
    await submitter.round()
    assert [w.size for w in submitter.witnesses] == [size, size]
    note = (await cosigned_log.client.get("/checkpoint", headers=AUDITOR)).content
    assert len(open_checkpoint(note, [w.cosigner.verifier for w in our_witnesses.values()])[1]) == 2


async def test_a_witness_that_refuses_leaves_no_cosignature(
    cosigned_log: Log, append: Append, our_witnesses: dict[str, Witness]
) -> None:
    submitter = cosigned_log.runtime.witnesses
    assert submitter is not None
    our_witnesses["w2"].logs.clear()  # w2 no longer knows the log: 404
    await grow(append, 4)
    await cosigned_log.sign()
    await submitter.round()
    note = (await cosigned_log.client.get("/checkpoint", headers=AUDITOR)).content
    w1, w2 = (w.cosigner.verifier for w in our_witnesses.values())
    assert open_checkpoint(note, [w1, w2])[1] == [w1]
    assert isinstance(submitter, witnesses.Submitter)


def run(notecheck: Path, note: bytes, *args: str) -> subprocess.CompletedProcess[str]:
    """``notecheck`` with ``args``, the note on its stdin."""
    return subprocess.run(
        [str(notecheck), *args], input=note.decode(), capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="session")
def notecheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return gotools.build("notecheck", tmp_path_factory.mktemp("go"))
    except gotools.Unavailable as exc:
        pytest.skip(str(exc))


async def test_go_s_note_package_verifies_our_checkpoint_and_its_cosignatures(
    cosigned_log: Log, append: Append, our_witnesses: dict[str, Witness], notecheck: Path
) -> None:
    submitter = cosigned_log.runtime.witnesses
    assert submitter is not None
    await grow(append, 7)
    await cosigned_log.sign()
    await submitter.round()
    note = (await cosigned_log.client.get("/checkpoint", headers=AUDITOR)).content
    key = (await cosigned_log.client.get("/public-key", headers=AUDITOR)).json()["verifier_key"]
    assert key == LOG_VKEY
    witness_keys = [w.cosigner.verifier.vkey for w in our_witnesses.values()]

    def check(*keys: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(notecheck), *keys],
            input=note.decode(),
            capture_output=True,
            text=True,
            check=False,
        )

    alone = check(key)  # golang.org/x/mod/sumdb/note: the log's signature
    assert alone.returncode == 0, alone.stderr
    opened = json.loads(alone.stdout)
    assert opened["text"].startswith(f"{ORIGIN}\n7\n")
    assert opened["verified"] == [ORIGIN]
    assert sorted(opened["unverified"]) == ["witness.example/w1", "witness.example/w2"]
    cosigned = check(key, *witness_keys)  # transparency-dev/formats: the cosignatures
    assert cosigned.returncode == 0, cosigned.stderr
    assert sorted(json.loads(cosigned.stdout)["verified"]) == sorted(
        [ORIGIN, "witness.example/w1", "witness.example/w2"]
    )
    stranger = Signer(Ed25519PrivateKey.generate()).note_signer(ORIGIN).verifier.vkey
    assert check(stranger).returncode == 1


async def test_a_cosignature_made_by_transparency_dev_code_verifies_in_ours(
    cosigned_log: Log, append: Append, notecheck: Path
) -> None:
    await grow(append, 9)
    await cosigned_log.sign()
    note = (await cosigned_log.client.get("/checkpoint", headers=AUDITOR)).content
    go_witness = Cosigner("witness.example/go", Ed25519PrivateKey.generate())
    seed = go_witness.key.private_bytes_raw()
    skey = (
        f"PRIVATE+KEY+{go_witness.name}+{go_witness.verifier.key_id.hex()}+"
        + base64.b64encode(b"\x04" + seed).decode()
    )
    done = run(notecheck, note, "-cosign", skey, LOG_VKEY)
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout)["cosignature"]
    assert line.startswith("\u2014 witness.example/go ")
    cosigned = note + line.encode()
    checkpoint, verified = open_checkpoint(cosigned, [go_witness.verifier])
    assert verified == [go_witness.verifier] and checkpoint.size == 9
