"""Build the user's manual as a site (mkdocs-material), in strict mode: the README is the
landing page, docs/ the rest; docs/cli.md is generated from the commands first.

    python -m devtools.site           # build/site
"""

import os
import re
import shutil
import subprocess
import sys

from devtools import cli_docs
from devtools.stack import ROOT

SOURCE = ROOT / "build" / "site-src"


def stage() -> None:
    """The pages mkdocs reads: docs/ as it is, the README with its links made relative."""
    shutil.rmtree(SOURCE, ignore_errors=True)
    shutil.copytree(ROOT / "docs", SOURCE)
    readme = (ROOT / "README.md").read_text()
    (SOURCE / "index.md").write_text(re.sub(r"\]\(docs/", "](", readme))


def main() -> int:
    cli_docs.TARGET.write_text(cli_docs.render())
    stage()
    mkdocs = os.path.join(os.path.dirname(sys.executable), "mkdocs")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [mkdocs, "build", "--strict", "-q"], cwd=ROOT, env=env, check=False
    ).returncode


if __name__ == "__main__":
    raise SystemExit(main())
