"""Write ``client/models/<service>.py`` from each service's OpenAPI document.

The client speaks HTTP only and never imports a service, so the models it reads and
sends are generated from what the services publish (datamodel-code-generator), checked
in, and a test generates them again and compares, so they cannot drift:

    python -m devtools.openapi_models          # rewrite client/models/
    python -m devtools.openapi_models --check  # exit 1 if any file is out of date
"""

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from devtools.stack import ROOT

SERVICES = ("registry", "consent", "audit", "breach", "notifier", "detection")
MODELS = ROOT / "client" / "models"
HEADER = (
    '"""{service}: generated from the service\'s OpenAPI document; do not edit.\n\n'
    'Regenerate with ``python -m devtools.openapi_models`` (``make models``).\n"""\n'
)


def openapi(service: str) -> dict[str, object]:
    """The service's OpenAPI document, from its app as ``build_app`` makes it."""
    main = importlib.import_module(f"services.{service}.main")
    return main.build_app().openapi()


def generate(service: str) -> str:
    """The models module of ``service``, formatted as the repository formats code."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "openapi.json", Path(tmp) / f"{service}.py"
        source.write_text(json.dumps(openapi(service), sort_keys=True))
        bin_dir = Path(sys.executable).parent
        subprocess.run(
            [
                str(bin_dir / "datamodel-codegen"),
                "--input",
                str(source),
                "--input-file-type",
                "openapi",
                "--output",
                str(target),
                "--output-model-type",
                "pydantic_v2.BaseModel",
                "--target-python-version",
                "3.11",
                "--use-standard-collections",
                "--use-union-operator",
                "--use-schema-description",
                "--disable-timestamp",
                "--use-double-quotes",
                "--field-constraints",
                "--use-annotated",
            ],
            check=True,
            capture_output=True,
        )
        text = target.read_text()
        # the generator's own header names the temporary file: ours says where it came from
        body = text.split("\n\n", 1)[1] if text.startswith("#") else text
        target.write_text(HEADER.format(service=service) + "\n" + body)
        ruff = str(bin_dir / "ruff")
        for step in (["check", "--fix", "--exit-zero"], ["format"]):
            subprocess.run([ruff, *step, "-q", str(target)], check=True, capture_output=True)
        return target.read_text()


def stale() -> list[str]:
    """The services whose checked-in models differ from freshly generated ones."""
    return [s for s in SERVICES if (MODELS / f"{s}.py").read_text() != generate(s)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    if args.check:
        out_of_date = stale()
        for service in out_of_date:
            sys.stderr.write(f"client/models/{service}.py is out of date: run make models\n")
        return 1 if out_of_date else 0
    for service in SERVICES:
        (MODELS / f"{service}.py").write_text(generate(service))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
