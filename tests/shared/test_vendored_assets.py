"""The third-party files the pages load are exactly the ones pinned in
shared/static/vendor/manifest.toml (``make assets`` writes both): an edit by hand, a file
left behind or one added without the manifest fails here."""

import hashlib
import shutil
from pathlib import Path

import pytest

from devtools.vendor_assets import MANIFEST, VENDOR, Package, dump, load, problems
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
