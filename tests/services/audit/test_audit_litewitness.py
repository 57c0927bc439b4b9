"""A witness of another's making cosigns our checkpoints: litewitness (filippo.io/torchwood,
c2sp.org/tlog-witness), configured with our log's origin and verifier key, is the audit
service's witness (``AUDIT_WITNESSES``); the log submits each new checkpoint to it with
a consistency proof, and the cosignature it returns verifies with transparency-dev/formats
(``notecheck``) and in our own code. litewitness keeps its key in an ssh-agent, so one is
started with a fresh Ed25519 key. Skipped where Go, the module proxy or ssh-agent is
missing, saying which."""

import asyncio
import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools import gotools
from devtools.stack import free_port
from shared.tlog.note import COSIGNATURE_V1, Verifier, open_checkpoint, parse_vkey
from tests.services.audit.conftest import Append
from tests.services.audit.test_audit_tiles import AUDITOR, ORIGIN, Log, grow, serve_log
from tests.services.audit.test_audit_witnesses import LOG_VKEY, run

pytestmark = pytest.mark.integration

NAME = "witness.test.example/litewitness"


@dataclass(frozen=True)
class Tools:
    litewitness: Path
    witnessctl: Path
    notecheck: Path


@pytest.fixture(scope="session")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Tools:
    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("litewitness keeps its key in an ssh-agent: ssh-agent is not installed")
    into = tmp_path_factory.mktemp("go")
    try:
        return Tools(*(gotools.build(t, into) for t in ("litewitness", "witnessctl", "notecheck")))
    except gotools.Unavailable as exc:
        pytest.skip(str(exc))


@dataclass(frozen=True)
class LiteWitness:
    url: str
    verifier: Verifier
    db: Path


def _wait_for(what: str, ready: object, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready():  # type: ignore[operator]
        if process.poll() is not None:
            out = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"{what} stopped (exit {process.returncode}): {out[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not ready in {seconds} s")
        time.sleep(0.05)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def litewitness(tools: Tools, tmp_path: Path) -> Iterator[LiteWitness]:
    """litewitness on a port of its own, its key in an ssh-agent of its own, our log
    added to its database with ``witnessctl``."""
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "witness_key"
    key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    key_file.chmod(0o600)
    public = key.public_key()
    wire = base64.b64decode(public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).split()[1])
    digest = base64.b64encode(hashlib.sha256(wire).digest()).decode().rstrip("=")
    fingerprint = f"SHA256:{digest}"  # how litewitness names the agent's key (ssh-keygen -l)
    db = tmp_path / "witness.db"
    for args in (["add-log", "-origin", ORIGIN], ["add-key", "-origin", ORIGIN, "-key", LOG_VKEY]):
        done = subprocess.run(
            [str(tools.witnessctl), args[0], "-db", str(db), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    # short: a socket's path is bounded (108 bytes), and pytest's temporary ones are long
    sock = Path("/tmp") / f"lw-{os.getpid()}-{digest[:8].replace('/', '_')}.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    witness: subprocess.Popen[bytes] | None = None
    try:
        _wait_for("ssh-agent", sock.exists, agent, 10)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        added = subprocess.run(
            ["ssh-add", str(key_file)], env=env, capture_output=True, text=True, check=False
        )
        assert added.returncode == 0, added.stderr
        port = free_port()
        flags = {
            "-db": db,
            "-name": NAME,
            "-key": fingerprint,
            "-ssh-agent": sock,
            "-listen": f"127.0.0.1:{port}",
        }
        witness = subprocess.Popen(
            [str(tools.litewitness), *(str(x) for flag in flags.items() for x in flag)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        _wait_for("litewitness", lambda: _listening(port), witness, 20)
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        yield LiteWitness(f"http://127.0.0.1:{port}", Verifier(NAME, COSIGNATURE_V1, raw), db)
    finally:
        for process in (witness, agent):
            if process is not None:
                process.terminate()
                process.wait(10)
        sock.unlink(missing_ok=True)


@pytest.fixture
async def witnessed_log(
    audit_schema: str, audit_engine: AsyncEngine, litewitness: LiteWitness
) -> AsyncIterator[Log]:
    configured = [{"vkey": litewitness.verifier.vkey, "url": litewitness.url}]
    async with httpx.AsyncClient(timeout=10) as client:
        async for made in serve_log(audit_schema, audit_engine, client, witnesses=configured):
            yield made


async def test_litewitness_cosigns_our_checkpoints_and_formats_verifies_them(
    witnessed_log: Log, append: Append, litewitness: LiteWitness, tools: Tools
) -> None:
    submitter = witnessed_log.runtime.witnesses
    assert submitter is not None
    keys = [parse_vkey(LOG_VKEY), litewitness.verifier]
    current = 0
    for size in (3, 40, 300):  # from nothing, then each time with a consistency proof
        await grow(append, size - current)
        current = await witnessed_log.sign()
        await submitter.round()
        note = (await witnessed_log.client.get("/checkpoint", headers=AUDITOR)).content
        checkpoint, verified = open_checkpoint(note, keys)  # ours
        assert (checkpoint.size, verified) == (current, keys), note.decode()
        checked = run(tools.notecheck, note, LOG_VKEY, litewitness.verifier.vkey)
        assert checked.returncode == 0, checked.stderr  # transparency-dev/formats
        assert sorted(json.loads(checked.stdout)["verified"]) == sorted([ORIGIN, NAME])
    listed = await asyncio.to_thread(
        subprocess.run,
        [str(tools.witnessctl), "list-logs", "-db", str(litewitness.db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert '"size":300' in listed.stdout.replace(" ", "")  # where the witness now stands
