"""The third-party files the pages load are exactly the ones pinned in
shared/static/vendor/manifest.toml (``make assets`` writes both): an edit by hand, a file
left behind or one added without the manifest fails here."""

import base64
import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import pytest

from devtools import vendor_assets
from devtools.vendor_assets import (
    MANIFEST,
    VENDOR,
    Package,
    VendoredFile,
    VendorError,
    dump,
    extract,
    load,
    problems,
    tarball_integrity,
    vendor,
)
from shared.pages import ASYNCAPI, STATIC_DIR, SWAGGER

PACKAGES = load()


def test_every_vendored_file_matches_its_pinned_hash() -> None:
    assert problems(PACKAGES) == []


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_each_package_is_pinned_to_an_exact_version_and_keeps_its_licence(
    package: Package,
) -> None:
    assert all(part.isdigit() for part in package.version.split(".")), package.version
    assert package.integrity.startswith("sha512-"), "fetched and checked by make assets"
    assert package.licence in {"0BSD", "MIT", "Apache-2.0", "MPL-2.0", "BSD-2-Clause"}
    targets = {file.target for file in package.files}
    assert "LICENSE" in targets
    for file in package.files:
        path = VENDOR / package.name / file.target
        assert hashlib.sha256(path.read_bytes()).hexdigest() == file.sha256


def test_a_file_changed_by_hand_is_found(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    edited = copy / "swagger-ui-dist" / "swagger-ui.css"
    edited.write_bytes(edited.read_bytes() + b"\n/* changed */\n")
    (copy / "htmx.org" / "extra.js").write_text("// not in the manifest\n")
    (copy / "axe-core" / "axe.min.js").unlink()
    assert sorted(problems(PACKAGES, copy)) == [
        "axe-core: axe.min.js is missing",
        "htmx.org/extra.js is not in the manifest",
        "swagger-ui-dist: swagger-ui.css differs from the manifest's sha256",
    ]


def test_the_manifest_is_as_the_script_writes_it(tmp_path: Path) -> None:
    assert dump(PACKAGES) == MANIFEST.read_text(encoding="utf-8")
    again = tmp_path / "manifest.toml"
    again.write_text(dump(PACKAGES), encoding="utf-8")
    assert load(again) == PACKAGES


def test_the_pages_load_files_that_are_vendored() -> None:
    for url in (
        f"{SWAGGER}/swagger-ui-bundle.js",
        f"{SWAGGER}/swagger-ui.css",
        f"{SWAGGER}/favicon-32x32.png",
        f"{ASYNCAPI}/index.js",
        f"{ASYNCAPI}/default.min.css",
    ):
        assert (STATIC_DIR / url.removeprefix("/static/")).is_file(), url


def tarball(path: Path, files: dict[str, bytes]) -> Path:
    """An npm-style tarball (everything under ``package/``) holding ``files``."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_extract_writes_the_listed_files_and_their_hashes(tmp_path: Path) -> None:
    package = Package(
        "demo-pkg", "1.0.0", "MIT", "a test", files=[VendoredFile("dist/a.min.js", "a.js")]
    )
    (tmp_path / "vendor" / "demo-pkg").mkdir(parents=True)
    (tmp_path / "vendor" / "demo-pkg" / "stale.js").write_text("// an older version's\n")
    source = tarball(tmp_path / "p.tgz", {"dist/a.min.js": b"a()", "README.md": b"# no"})
    extract(package, source, tmp_path / "vendor")
    assert sorted(p.name for p in (tmp_path / "vendor" / "demo-pkg").iterdir()) == ["a.js"]
    assert package.files[0].sha256 == hashlib.sha256(b"a()").hexdigest()
    assert problems([package], tmp_path / "vendor") == []


@pytest.mark.parametrize(
    ("source", "target", "error"),
    [
        ("dist/missing.js", "a.js", "has no file 'dist/missing.js'"),
        ("../escape.js", "a.js", "leaves the package"),
        ("dist/a.min.js", "../../a.js", "leaves the package"),
    ],
)
def test_extract_refuses_a_missing_file_or_a_path_out_of_the_package(
    tmp_path: Path, source: str, target: str, error: str
) -> None:
    package = Package("demo-pkg", "1.0.0", "MIT", "a test", files=[VendoredFile(source, target)])
    kept = tmp_path / "vendor" / "demo-pkg" / "kept.js"
    kept.parent.mkdir(parents=True)
    kept.write_text("kept()")
    with pytest.raises(VendorError, match=error):
        extract(package, tarball(tmp_path / "p.tgz", {"dist/a.min.js": b"a()"}), kept.parent.parent)
    assert kept.read_text() == "kept()"  # nothing touched


def test_a_tarball_unlike_the_pinned_integrity_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tarball(tmp_path / "p.tgz", {"a.js": b"a()"})
    registry = tarball_integrity(source)
    package = Package("demo-pkg", "1.0.0", "MIT", "a test", files=[VendoredFile("a.js", "a.js")])
    monkeypatch.setattr(vendor_assets, "registry_integrity", lambda _: registry)
    monkeypatch.setattr(vendor_assets, "fetch", lambda _p, _w: source)

    package.integrity = "sha512-" + base64.b64encode(b"\0" * 64).decode()
    with pytest.raises(VendorError, match="delete its integrity line"):
        vendor(package, tmp_path, tmp_path / "vendor")

    package.integrity = ""  # a new version: the registry's integrity is taken, then checked
    vendor(package, tmp_path, tmp_path / "vendor")
    assert package.integrity == registry
    assert (tmp_path / "vendor" / "demo-pkg" / "a.js").read_bytes() == b"a()"

    monkeypatch.setattr(vendor_assets, "fetch", lambda _p, _w: tarball(source, {"a.js": b"b()"}))
    with pytest.raises(VendorError, match="does not match the registry's integrity"):
        vendor(package, tmp_path, tmp_path / "vendor")
