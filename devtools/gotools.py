"""Independent tools in Go, built on demand: our own small programs under ``devtools/go``
(``notecheck``: golang.org/x/mod/sumdb/note and transparency-dev/formats open a signed
note) and others' commands (Tessera's ``fsck``; torchwood's ``litewitness``, a
witness, and ``witnessctl``), for tests and checks that want a
second opinion. Built with ``go build`` into a directory of the caller's; when ``go`` is
missing or the module proxy cannot be reached, :func:`build` says why and returns None.
"""

import os
import shutil
import subprocess
from pathlib import Path

GO_MODULE = Path(__file__).parent / "go"
BUILD_SECONDS = 600

TOOLS = {
    "notecheck": "./notecheck",
    "fsck": "github.com/transparency-dev/tessera/cmd/fsck",
    # FiloSottile's witness (c2sp.org/tlog-witness) and its database tool
    "litewitness": "filippo.io/torchwood/cmd/litewitness",
    "witnessctl": "filippo.io/torchwood/cmd/witnessctl",
}
"""What each tool is built from, in the module at ``devtools/go``."""


class Unavailable(Exception):
    """The tool could not be built here (no ``go``, no module proxy); the reason."""


def build(tool: str, into: Path) -> Path:
    """Build ``tool`` into ``into`` and return its path, or raise :class:`Unavailable`."""
    go = shutil.which("go")
    if go is None:
        raise Unavailable("go is not installed")
    target = into / tool
    if target.exists():
        return target
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    try:
        done = subprocess.run(
            [go, "build", "-o", str(target), TOOLS[tool]],
            cwd=GO_MODULE,
            env=env,
            capture_output=True,
            text=True,
            timeout=BUILD_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"go build {tool} took over {BUILD_SECONDS} s") from exc
    if done.returncode != 0:
        raise Unavailable(f"go build {tool} failed: {done.stderr.strip()[-500:]}")
    return target
