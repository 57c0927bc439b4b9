"""Tessera's ``fsck`` (github.com/transparency-dev/tessera/cmd/fsck), an independent
tlog-tiles client, re-derives the checkpoint's root from every tile and entry bundle the
audit service serves over HTTP. Skipped when Go or its module proxy is not available.

The log is written directly (``devtools.synthetic_log``): 70,000 entries by default, the
size the tlog-tiles spec takes as its example (tiles on three levels, partial ones on
each); ``FSCK_ENTRIES=1000000`` runs it on a million (docs/benchmarks.md).
"""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools import gotools
from devtools.stack import free_port
from devtools.synthetic_log import fill
from services.audit import signing
from services.audit.bootstrap import bootstrap
from services.audit.config import AuditSettings
from services.audit.main import build_app
from shared.app import Infrastructure, create_broker
from shared.auth import Role, mint_token
from shared.db import create_sessions
from shared.settings import DEVELOPMENT_JWT_SECRET

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ENTRIES = int(os.environ.get("FSCK_ENTRIES", "70000"))
ORIGIN = "audit.test.example/fsck"


@pytest.fixture(scope="module")
def fsck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return gotools.build("fsck", tmp_path_factory.mktemp("go"))
    except gotools.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
async def served(audit_schema: str, audit_engine: AsyncEngine) -> AsyncIterator[tuple[str, str]]:
    """A log of ``ENTRIES`` entries with a signed head, served over HTTP: its URL and
    its verifier key."""
    audit_log = await fill(audit_schema, ENTRIES, quiet=True)
    settings = AuditSettings(db_schema=audit_schema, log_origin=ORIGIN)
    infra = Infrastructure(
        settings=settings,
        engine=audit_engine,
        sessions=create_sessions(audit_engine),
        broker=create_broker(settings),
    )
    runtime = await bootstrap(infra)
    assert await signing.sign_tree_head(runtime.sessions, audit_log, runtime.signer) == ENTRIES
    app = build_app(settings)
    app.state.runtime = runtime
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn sets a flag, no event  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", runtime.note_signer.verifier.vkey
    server.should_exit = True
    await serving


async def _fsck(fsck: Path, url: str, key_file: Path) -> tuple[int, str]:
    token = mint_token(DEVELOPMENT_JWT_SECRET, role=Role.AUDITOR)
    process = await asyncio.create_subprocess_exec(
        str(fsck),
        f"--storage_url={url}",
        f"--public_key={key_file}",
        f"--bearer_token={token}",
        "--ui=false",
        "--N=2",
        "--v=1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


async def test_tessera_fsck_rederives_the_root_from_every_tile(
    fsck: Path, served: tuple[str, str], tmp_path: Path
) -> None:
    url, vkey = served
    key_file = tmp_path / "log.pub"
    key_file.write_text(vkey)
    status, output = await _fsck(fsck, url, key_file)
    assert status == 0 and "fsck failed" not in output, output[-3000:]
    assert f"Successfully fsck'd log with size {ENTRIES}" in output, output[-3000:]
    sys.stderr.write(output[-1500:])  # its last ranges, shown with -s
    # and it does fail a log signed by another key than the one it was given
    other = tmp_path / "other.pub"
    other.write_text(signing.Signer.from_seed(bytes(32)).note_signer(ORIGIN).verifier.vkey)
    status, output = await _fsck(fsck, url, other)
    assert status != 0 or "fsck failed" in output, output[-3000:]
