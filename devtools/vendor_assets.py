"""Put the JavaScript and CSS the project's pages load in ``shared/static/vendor/``, from
the npm packages pinned in its ``manifest.toml`` (``make assets``):

    python -m devtools.vendor_assets          # fetch, check, extract, rewrite the hashes
    python -m devtools.vendor_assets --check  # exit 1 if a vendored file is not as pinned

For each package the manifest names an exact version, the files taken from its tarball
(``from``, a path inside the package) and where each goes (``to``, under
``shared/static/vendor/<package>/``). The tarball is fetched with ``npm pack`` and its
SHA-512 is checked against the registry's ``integrity`` for that version and, once the
manifest records one, against the manifest's own: a version's content cannot change
under the project. The package's directory is emptied and the listed files written; the
manifest is written back with each file's SHA-256, which the fast test
(``tests/shared/test_vendored_assets.py``) checks, so an edit by hand fails it.

To move a package to another version: change its ``version``, delete its ``integrity``
line, run ``make assets``, and review the diff (docs/operations.md).
"""

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from devtools.stack import ROOT

VENDOR = ROOT / "shared" / "static" / "vendor"
MANIFEST = VENDOR / "manifest.toml"

HEADER = """\
# The third-party files the project's pages load, pinned: package, exact version, the
# registry's integrity for its tarball, and each file taken from it with its SHA-256.
# Written by `make assets` (python -m devtools.vendor_assets); tests/shared/
# test_vendored_assets.py fails when a file under shared/static/vendor/ differs.
# To update a package: change its version, delete its integrity line, `make assets`,
# review the diff.
"""


class VendorError(Exception):
    """A package could not be fetched or does not match what is pinned."""


@dataclass
class VendoredFile:
    """One file of a package: its path in the tarball, where it goes, its SHA-256."""

    source: str
    target: str
    sha256: str = ""


@dataclass
class Package:
    """One pinned npm package and the files the project takes from it."""

    name: str
    version: str
    licence: str
    purpose: str
    integrity: str = ""
    files: list[VendoredFile] = field(default_factory=list)


def load(path: Path = MANIFEST) -> list[Package]:
    """The packages the manifest at ``path`` pins."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    packages = []
    for entry in data.get("package", []):
        files = [
            VendoredFile(f["from"], f["to"], f.get("sha256", "")) for f in entry.get("file", [])
        ]
        packages.append(
            Package(
                name=entry["name"],
                version=entry["version"],
                licence=entry["licence"],
                purpose=entry["purpose"],
                integrity=entry.get("integrity", ""),
                files=files,
            )
        )
    return packages


def dump(packages: list[Package]) -> str:
    """The manifest's text for ``packages``."""

    def q(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string is a JSON string

    lines = [HEADER]
    for package in packages:
        lines += [
            "[[package]]",
            f"name = {q(package.name)}",
            f"version = {q(package.version)}",
            f"licence = {q(package.licence)}",
            f"purpose = {q(package.purpose)}",
        ]
        if package.integrity:
            lines.append(f"integrity = {q(package.integrity)}")
        lines.append("")
        for file in package.files:
            lines += [
                "[[package.file]]",
                f"from = {q(file.source)}",
                f"to = {q(file.target)}",
                f"sha256 = {q(file.sha256)}",
                "",
            ]
    return "\n".join(lines)


def sha256_of(path: Path) -> str:
    """The file's SHA-256, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def problems(packages: list[Package], vendor: Path = VENDOR) -> list[str]:
    """What differs between ``vendor`` and the manifest: a file missing, changed, or
    present without being listed."""
    found: list[str] = []
    listed: set[Path] = set()
    for package in packages:
        for file in package.files:
            path = vendor / package.name / file.target
            listed.add(path)
            if not path.is_file():
                found.append(f"{package.name}: {file.target} is missing")
            elif sha256_of(path) != file.sha256:
                found.append(f"{package.name}: {file.target} differs from the manifest's sha256")
    for path in sorted(vendor.rglob("*")):
        if path.is_file() and path.name != MANIFEST.name and path not in listed:
            found.append(f"{path.relative_to(vendor)} is not in the manifest")
    return found


def _npm(*args: str) -> str:
    try:
        done = subprocess.run(
            ["npm", *args], capture_output=True, text=True, check=True, timeout=300
        )
    except FileNotFoundError:
        raise VendorError("npm is not installed; it is needed to fetch the packages") from None
    except subprocess.CalledProcessError as exc:
        raise VendorError(f"npm {' '.join(args)} failed: {exc.stderr.strip()}") from None
    return done.stdout


def registry_integrity(package: Package) -> str:
    """The registry's integrity (``sha512-<base64>``) for the package's tarball."""
    spec = f"{package.name}@{package.version}"
    out = json.loads(_npm("view", spec, "dist.integrity", "--json") or "null")
    if not isinstance(out, str) or not out.startswith("sha512-"):
        raise VendorError(f"{spec}: the registry has no sha512 integrity for this version")
    return out


def tarball_integrity(path: Path) -> str:
    """The tarball's integrity in the registry's notation."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch(package: Package, into: Path) -> Path:
    """The package's tarball, fetched with ``npm pack`` into ``into``."""
    out = json.loads(_npm("pack", f"{package.name}@{package.version}", "--json",
                          "--pack-destination", str(into)))  # fmt: skip
    return into / out[0]["filename"]


def extract(package: Package, tarball: Path, vendor: Path = VENDOR) -> None:
    """Empty the package's directory (``<vendor>/<package name>/``) and write the listed
    files from ``tarball``; nothing is touched unless every listed file is in it."""
    for file in package.files:
        for path in (file.source, file.target):
            if PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts:
                raise VendorError(f"{package.name}: {path!r} leaves the package")
    with tarfile.open(tarball, "r:gz") as archive:
        members = {m.name: m for m in archive.getmembers() if m.isfile()}
        contents = {}
        for file in package.files:
            member = members.get(f"package/{file.source}")
            data = archive.extractfile(member) if member is not None else None
            if data is None:
                raise VendorError(f"{package.name}@{package.version} has no file {file.source!r}")
            contents[file.target] = data.read()
    directory = vendor / package.name
    if directory.exists():
        shutil.rmtree(directory)
    for file in package.files:
        target = directory / file.target
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(contents[file.target])
        file.sha256 = sha256_of(target)


def vendor(package: Package, workdir: Path, into: Path = VENDOR) -> None:
    """Fetch, check and extract one package into ``into``, recording its integrity and
    hashes."""
    spec = f"{package.name}@{package.version}"
    expected = registry_integrity(package)
    if package.integrity and package.integrity != expected:
        raise VendorError(
            f"{spec}: the registry's integrity {expected} is not the manifest's "
            f"{package.integrity}; after changing the version, delete its integrity line"
        )
    tarball = fetch(package, workdir)
    if tarball_integrity(tarball) != expected:
        raise VendorError(f"{spec}: the fetched tarball does not match the registry's integrity")
    package.integrity = expected
    extract(package, tarball, into)


def main(argv: list[str] | None = None) -> int:
    """Vendor every package of the manifest, or with ``--check`` only compare."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare with the manifest")
    args = parser.parse_args(argv)
    packages = load()
    if not args.check:
        with tempfile.TemporaryDirectory(prefix="vendor-") as tmp:
            try:
                for package in packages:
                    vendor(package, Path(tmp))
                    print(f"{package.name}@{package.version}: {len(package.files)} files")
            except VendorError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
        MANIFEST.write_text(dump(packages), encoding="utf-8")
    found = problems(packages)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
